/**
 * Holds the coverage of src/ to a floor that only goes up: fails when the
 * last `npm test` (all files, both databases) covered less than
 * .ci/coverage-floor.json, and says how to raise the floor when it covered
 * clearly more. `--raise` writes the current figures, rounded down, as the
 * new floor; it never lowers one.
 */
import { readFileSync, writeFileSync } from "node:fs";

const FLOOR_FILE = ".ci/coverage-floor.json";
const SUMMARY_FILE = "coverage/coverage-summary.json";
/** Points above the floor past which it is time to raise it (a smaller gap is left as slack for noise, such as timing-dependent branches). */
const RAISE_MARGIN = 1;

type Metric = "lines" | "branches";
const METRICS: readonly Metric[] = ["lines", "branches"];

const floor = JSON.parse(readFileSync(FLOOR_FILE, "utf8")) as Record<Metric, number>;
const summary = JSON.parse(readFileSync(SUMMARY_FILE, "utf8")) as { total: Record<Metric, { pct: number }> };
const current = Object.fromEntries(METRICS.map((metric) => [metric, summary.total[metric].pct])) as Record<Metric, number>;

if (process.argv.includes("--raise")) {
  const raised = Object.fromEntries(METRICS.map((metric) => [metric, Math.max(floor[metric], Math.floor(current[metric]))]));
  writeFileSync(FLOOR_FILE, `${JSON.stringify(raised, null, 2)}\n`);
  console.log(`Coverage floor is now lines ${raised.lines}%, branches ${raised.branches}%: commit ${FLOOR_FILE}.`);
  process.exit(0);
}

const below = METRICS.filter((metric) => current[metric] < floor[metric]);
for (const metric of METRICS) console.log(`coverage of src/, ${metric}: ${current[metric]}% (floor ${floor[metric]}%)`);
if (below.length > 0) {
  console.log(`Coverage fell below the floor in ${below.join(" and ")}: cover the new or changed code with tests (the report is coverage/index.html).`);
  process.exit(1);
}
if (METRICS.some((metric) => current[metric] - floor[metric] >= RAISE_MARGIN)) {
  console.log(
    `Coverage is ${RAISE_MARGIN} point or more above the floor: raise it with \`npm run coverage:raise\` after a full \`npm test\`, and commit ${FLOOR_FILE}.`,
  );
}
