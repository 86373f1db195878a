// The portal's own script: charts and copy buttons. Pages work without it; it only adds to them.
/* global window, document, navigator */
(function () {
  "use strict";

  function drawCharts(root) {
    root.querySelectorAll("[data-chart]").forEach(function (element) {
      if (element.dataset.drawn) return;
      element.dataset.drawn = "1";
      var data = JSON.parse(element.getAttribute("data-chart"));
      // Never wider than the window: on a phone the chart must not widen the page it sits in.
      var width = Math.max(240, Math.min(element.clientWidth, window.innerWidth - 48) - 8);
      // uPlot is loaded by the page before this script.
      new window.uPlot(
        {
          width: width,
          height: 260,
          scales: { x: { time: true } },
          // Every time on the portal is UTC.
          tzDate: function (seconds) {
            return window.uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC");
          },
          // The caption names the colours; a legend table would not fit a phone.
          legend: { show: false },
          axes: [{}, { label: "attempts" }],
          series: [
            {},
            { label: "Succeeded", stroke: "#137a43", fill: "rgba(19,122,67,0.12)", width: 2 },
            { label: "Failed", stroke: "#b42323", fill: "rgba(180,35,35,0.10)", width: 2 },
          ],
        },
        [data.at, data.succeeded, data.failed],
        element,
      );
    });
  }

  function copyButtons(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
          button.textContent = "Copied";
        });
      });
    });
  }

  function enhance(root) {
    drawCharts(root);
    copyButtons(root);
  }

  document.addEventListener("DOMContentLoaded", function () {
    enhance(document);
  });
  // Pages that htmx swapped in (boosted links and forms) are enhanced too.
  document.addEventListener("htmx:load", function (event) {
    enhance(event.target);
  });
})();
