/*
 * CORS policy of /graphql: which web origins a browser lets read Engram's responses.
 *
 * Mechanism. By default nothing is allowed and no CORS header is ever sent, so only
 * same-origin pages (GraphiQL, served from /graphql) and non-browser clients can read
 * responses. ENGRAM_CORS_ORIGINS lists exact origins, which are echoed back one at a
 * time (with `Vary: Origin`, as the answer depends on it) and may send credentials; or it
 * is `*`, which allows any origin and never credentials, as the Fetch standard requires.
 * The policy only decides what a browser may read. Writing is guarded separately: every
 * POST must be JSON, which a cross-site page cannot send without a preflight that this
 * policy answers.
 */

/** Request headers a browser client may send (beyond the CORS-safelisted ones). */
const ALLOWED_HEADERS = 'authorization, content-type, x-memory-space, x-engram-read, traceparent, tracestate';
const ALLOWED_METHODS = 'GET, POST, OPTIONS';
/** How long a browser may cache a preflight answer. 600 s is Chromium's cap, so a longer value buys nothing. */
const PREFLIGHT_MAX_AGE_S = '600';

export class CorsPolicy {
  private readonly exact: ReadonlySet<string>;

  constructor(private readonly origins: readonly string[] | '*') {
    this.exact = new Set(origins === '*' ? [] : origins);
  }

  /** Whether any cross-origin caller is allowed at all; when not, no CORS header is sent. */
  get enabled(): boolean {
    return this.origins === '*' || this.exact.size > 0;
  }

  /** Headers for a response to a request with this Origin (none when the origin is not allowed). */
  responseHeaders(origin: string | undefined): Record<string, string> {
    if (this.origins === '*') return { 'access-control-allow-origin': '*' };
    if (this.exact.size === 0) return {};
    if (origin === undefined || !this.exact.has(origin)) return { vary: 'Origin' };
    return { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' };
  }

  /** Headers for a preflight (OPTIONS with Access-Control-Request-Method). */
  preflightHeaders(origin: string | undefined): Record<string, string> {
    const headers = this.responseHeaders(origin);
    if (headers['access-control-allow-origin'] === undefined) return headers;
    return { ...headers, 'access-control-allow-methods': ALLOWED_METHODS, 'access-control-allow-headers': ALLOWED_HEADERS, 'access-control-max-age': PREFLIGHT_MAX_AGE_S };
  }
}
