// A scripted browser for the end-to-end tests: follows redirects by hand with a cookie jar,
// so each hop (keyedge ↔ demo IdP) is visible and checkable.
export class Browser {
  constructor() { this.jar = new Map(); }

  cookieHeader(url) {
    const host = new URL(url).host;
    const jar = this.jar.get(host) || {};
    return Object.entries(jar).map(([k, v]) => `${k}=${v}`).join('; ');
  }

  store(url, res) {
    const host = new URL(url).host;
    const jar = this.jar.get(host) || {};
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '';
      if (expired) delete jar[name]; else jar[name] = value;
    }
    this.jar.set(host, jar);
  }

  async request(url, { method = 'GET', form } = {}) {
    const headers = { cookie: this.cookieHeader(url) };
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    this.store(url, res);
    return res;
  }

  /** Follows redirects until `stop(url)` is true or a non-redirect answer arrives. */
  async follow(url, { stop = () => false, method, form } = {}) {
    let res = await this.request(url, { method, form });
    for (let hops = 0; hops < 20; hops++) {
      const location = res.headers.get('location');
      if (![301, 302, 303, 307].includes(res.status) || !location) return { url, res };
      url = new URL(location, url).href;
      if (stop(url)) return { url, res: null };
      res = await this.request(url);
    }
    throw new Error('too many redirects');
  }
}

/**
 * Logs in through keyedge and the demo IdP, starting at `authorizeUrl`, and returns the URL
 * keyedge finally redirects to (the client's redirect_uri with code, state and iss).
 */
export async function loginThroughDemoIdp(browser, authorizeUrl, redirectUri, user = ['alice', 'wonderland']) {
  return loginThroughIdp(browser, authorizeUrl, redirectUri, { user });
}

/**
 * Like loginThroughDemoIdp for the IdP `alias`: picks it on keyedge's login page, or goes
 * on directly when keyedge skipped the page (kc_idp_hint, authenticate_by_default).
 */
export async function loginThroughIdp(browser, authorizeUrl, redirectUri, { alias = 'demo', user = ['alice', 'wonderland'] } = {}) {
  const atRp = (u) => u.startsWith(redirectUri);
  let { url, res } = await browser.follow(authorizeUrl, { stop: atRp });
  if (!res) return url;
  if (!/\/interaction\//.test(url)) {
    const html = await res.text();
    const href = html.match(new RegExp(`href="(/broker/${alias}/login[^"]*)"`));
    if (!href) throw new Error(`no ${alias} link on the login page (${res.status}):\n${html}`);
    const unescaped = href[1].replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replaceAll('&amp;', '&');
    const start = new URL(unescaped, url).href;
    ({ url, res } = await browser.follow(start, { stop: atRp }));
    if (!res) return url;
  }
  if (!/\/interaction\//.test(url)) throw new Error(`expected the IdP's login form, got ${url} (${res.status})`);
  const action = new URL(`${new URL(url).pathname}/login`, url).href;
  ({ url, res } = await browser.follow(action, {
    method: 'POST', form: { username: user[0], password: user[1] }, stop: atRp,
  }));
  if (res) throw new Error(`login did not return to the client: ${url} ${res.status}\n${await res.text()}`);
  return url;
}
