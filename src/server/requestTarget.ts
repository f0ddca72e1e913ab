/*
 * Request target: the path and query of an HTTP request, read from the request line alone.
 *
 * Mechanism. The Host header is client input that nothing here needs (the node serves
 * one site), and `new URL(path, "http://" + host)` throws on hosts such as `[` or
 * `a b`, which used to answer 500. So the target is parsed against a fixed base: the
 * origin form (`/graphql?query=...`) and the absolute form (`http://h/graphql`, which
 * proxies send) are accepted; anything else (the asterisk form, the authority form, an
 * unparsable URL) is malformed and gets 400.
 */

const FIXED_BASE = 'http://engram.invalid';

export interface RequestTarget {
  /** Path with dot segments resolved (WHATWG URL rules), not percent-decoded: routes compare it exactly. */
  readonly pathname: string;
  readonly searchParams: URLSearchParams;
}

/** The target of `rawUrl` (IncomingMessage.url), or undefined when it is malformed. */
export function parseRequestTarget(rawUrl: string | undefined): RequestTarget | undefined {
  if (rawUrl === undefined || rawUrl === '') return undefined;
  const originForm = rawUrl.startsWith('/');
  if (!originForm && !/^https?:\/\//i.test(rawUrl)) return undefined;
  let url: URL;
  try {
    // Appended, not resolved against the base: "//x/graphql" is a path with an empty first segment, not a host.
    url = new URL(originForm ? `${FIXED_BASE}${rawUrl}` : rawUrl);
  } catch {
    return undefined;
  }
  return { pathname: url.pathname, searchParams: url.searchParams };
}
