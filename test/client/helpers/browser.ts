/**
 * A minimal browser for tests: a cookie jar per origin, manual redirects, and a log of every
 * response it received (status, headers, body), so a test can inspect everything a real
 * browser would have seen.
 */
export interface RecordedResponse {
  url: string;
  status: number;
  headers: Array<[string, string]>;
  setCookies: string[];
  body: string;
}

function headerList(headers: Headers): Array<[string, string]> {
  const list: Array<[string, string]> = [];
  headers.forEach((value, name) => list.push([name, value]));
  return list;
}

export class TestBrowser {
  readonly jar = new Map<string, Map<string, string>>();
  readonly log: RecordedResponse[] = [];

  cookies(origin: string): Map<string, string> {
    let jar = this.jar.get(origin);
    if (jar === undefined) this.jar.set(origin, (jar = new Map()));
    return jar;
  }

  async request(url: string | URL, init: { method?: string; form?: Record<string, string> } = {}): Promise<RecordedResponse> {
    const target = new URL(url);
    const jar = this.cookies(target.origin);
    const headers: Record<string, string> = {};
    if (jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (init.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const response = await fetch(target, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    const setCookies = response.headers.getSetCookie();
    for (const line of setCookies) {
      const [pair = '', ...attributes] = line.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=thu, 01 jan 1970/i.test(a));
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    const recorded: RecordedResponse = { url: target.href, status: response.status, headers: headerList(response.headers), setCookies, body: await response.text() };
    this.log.push(recorded);
    return recorded;
  }

  /** Follows redirects until a response is not a redirect or the next hop leaves `stayOn` (an origin); returns the last response and the next URL, if any. */
  async follow(url: string | URL, stayOn?: string): Promise<{ response: RecordedResponse; next: URL | undefined }> {
    let current = new URL(url);
    for (let hops = 0; hops < 20; hops++) {
      const response = await this.request(current);
      const location = response.headers.find(([k]) => k === 'location')?.[1];
      if (response.status < 300 || response.status >= 400 || location === undefined) return { response, next: undefined };
      const next = new URL(location, current);
      if (stayOn !== undefined && next.origin !== stayOn) return { response, next };
      current = next;
    }
    throw new Error('too many redirects');
  }
}

/**
 * Drives oidc-provider's devInteractions login and consent pages. Returns the redirect back to
 * the client (redirect_uri?code=…&state=…&iss=…) without following it.
 */
export async function authorizeAtOidcProvider(
  browser: TestBrowser,
  authorizationUrl: URL | string,
  options: { username?: string; approve?: boolean } = {},
): Promise<URL> {
  const start = new URL(authorizationUrl);
  let { response, next } = await browser.follow(start, start.origin);
  for (let step = 0; step < 6; step++) {
    if (next !== undefined) return next;
    const action = /<form[^>]*action="([^"]+)"[^>]*method="post"/.exec(response.body)?.[1];
    const prompt = /name="prompt" value="(\w+)"/.exec(response.body)?.[1];
    if (action === undefined || prompt === undefined) throw new Error(`unexpected provider page ${response.url} (${response.status}): ${response.body.slice(0, 300)}`);
    const formUrl = new URL(action.replace(/&amp;/g, '&'), response.url);
    let submitted: RecordedResponse;
    if (prompt === 'consent' && options.approve === false) {
      submitted = await browser.request(new URL(`${formUrl.pathname}/abort`, formUrl));
    } else {
      const form: Record<string, string> = prompt === 'login' ? { prompt, login: options.username ?? 'alice', password: 'any' } : { prompt };
      submitted = await browser.request(formUrl, { form });
    }
    const location = submitted.headers.find(([k]) => k === 'location')?.[1];
    if (location === undefined) throw new Error(`form submit did not redirect: ${submitted.status} ${submitted.body.slice(0, 300)}`);
    ({ response, next } = await browser.follow(new URL(location, formUrl), start.origin));
  }
  throw new Error('the provider did not redirect back');
}
