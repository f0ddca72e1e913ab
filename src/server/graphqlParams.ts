/*
 * GraphQL request parameters, read at the HTTP edge before yoga sees the request.
 *
 * Mechanism. A GET carries `query`, `operationName`, `variables` and `extensions` in its
 * query string; a POST carries one JSON object. Both are parsed here, so that malformed
 * input becomes a 400 with a code instead of an exception inside yoga (`variables=notjson`
 * used to answer INTERNAL_SERVER_ERROR), and so that the nesting of `variables` and
 * `extensions` is bounded before graphql-js coerces them recursively. JSON.parse itself
 * is iterative in V8 and cannot overflow; the depth walk here is iterative too.
 *
 * A POST must be `application/json` (or `application/graphql-response+json`), in UTF-8.
 * Following the GraphQL over HTTP specification's security guidance, the media types a
 * browser form can send without a CORS preflight (`application/x-www-form-urlencoded`,
 * `multipart/form-data`, `text/plain`) are refused, so a page on another site cannot make
 * a visitor's browser write. Media types and charset names are case-insensitive.
 *
 * Yoga receives the parsed parameters through its server context: {@link useEdgeParams}
 * makes them its request parser, so the body is parsed once.
 */

import type { GraphQLParams, Plugin } from 'graphql-yoga';

export interface GraphqlParams {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
  extensions?: unknown;
  [name: string]: unknown;
}

export type ParamsOutcome = { ok: true; params: GraphqlParams } | { ok: false; message: string; limit?: string };

/** Media types accepted for a POST body. */
export const POST_MEDIA_TYPES: readonly string[] = ['application/json', 'application/graphql-response+json'];

/** Whether a POST's Content-Type is JSON in UTF-8 (no charset means UTF-8). */
export function isJsonMediaType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const [type = '', ...parameters] = contentType.split(';');
  if (!POST_MEDIA_TYPES.includes(type.trim().toLowerCase())) return false;
  for (const parameter of parameters) {
    const [name = '', value = ''] = parameter.split('=');
    if (name.trim().toLowerCase() === 'charset' && value.trim().replace(/^"|"$/g, '').toLowerCase() !== 'utf-8') return false;
  }
  return true;
}

/** Whether a JSON value nests arrays and objects deeper than `max` (`{}` is 1). Iterative, so any depth is safe. */
export function jsonDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

function checkDepth(params: GraphqlParams, maxJsonDepth: number): ParamsOutcome {
  for (const name of ['variables', 'extensions'] as const) {
    if (jsonDeeperThan(params[name], maxJsonDepth)) {
      return { ok: false, message: `${name} nests arrays and objects deeper than the limit of ${maxJsonDepth} levels`, limit: 'jsonDepth' };
    }
  }
  return { ok: true, params };
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** Parameters of a GET, from its query string. */
export function paramsFromSearch(search: URLSearchParams, maxJsonDepth: number): ParamsOutcome {
  const params: GraphqlParams = {};
  for (const name of ['query', 'operationName'] as const) {
    const value = search.get(name);
    if (value) params[name] = value;
  }
  for (const name of ['variables', 'extensions'] as const) {
    const text = search.get(name);
    if (!text) continue;
    const parsed = parseJson(text);
    if (!parsed.ok) return { ok: false, message: `The ${name} parameter is not valid JSON` };
    params[name] = parsed.value;
  }
  return checkDepth(params, maxJsonDepth);
}

/** Parameters of a POST, from its JSON body. */
export function paramsFromJsonBody(body: Buffer, maxJsonDepth: number): ParamsOutcome {
  const parsed = parseJson(body.toString('utf8'));
  if (!parsed.ok) return { ok: false, message: 'The request body is not valid JSON' };
  const value = parsed.value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, message: 'The request body must be a JSON object with a "query" (batches are not accepted)' };
  }
  return checkDepth(value as GraphqlParams, maxJsonDepth);
}

/**
 * Yoga plugin: the parameters the edge parsed (server context `engramParams`) are the
 * request's parameters. It runs after yoga's own parsers, so it replaces whichever matched.
 */
export function useEdgeParams(): Plugin {
  return {
    onRequestParse({ serverContext, setRequestParser }) {
      const params = (serverContext as { engramParams?: GraphqlParams } | undefined)?.engramParams;
      if (params !== undefined) setRequestParser(() => params as GraphQLParams);
    },
  };
}
