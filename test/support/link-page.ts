/** A hosted link page as a browser has it: its HTML, the answer's headers, and the token its forms post back. */
export interface LinkPage {
  response: Response;
  html: string;
  token: string;
}

export async function openLinkPage(url: string): Promise<LinkPage> {
  const response = await fetch(url);
  const html = await response.text();
  const token = /<input type="hidden" name="token" value="([^"]+)">/.exec(html)?.[1];
  if (response.status !== 200 || token === undefined) throw new Error(`${url} answered ${response.status} without a form token: ${html.slice(0, 300)}`);
  return { response, html, token };
}

/** Posts a link page's form as a browser on that page does: urlencoded fields, with the page's origin in Origin unless `headers` says otherwise. */
export function postLinkForm(
  url: string,
  fields: Record<string, string>,
  headers: Record<string, string> = { origin: new URL(url).origin },
): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(fields).toString(),
    redirect: "manual",
  });
}

/** Opens a connection's link page (its `linkUrl`, with the key of a link reminder if it has one) and presses Authorize or Cancel on it. */
export async function pressLinkButton(linkUrl: string, button: "authorize" | "cancel"): Promise<Response> {
  const { token } = await openLinkPage(linkUrl);
  // The page's forms post to its own query, which carries the key of a reminded link URL.
  return postLinkForm(linkUrl.replace(/\/start(\?.*)?$/, `/${button}$1`), { token });
}
