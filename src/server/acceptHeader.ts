// Accept header: which response media types a GraphQL request may get.
//
// Mechanism. Engram answers GraphQL with JSON only (`application/graphql-response+json` or
// `application/json`); it has no subscriptions, @defer or @stream, so yoga's streaming
// encodings (`multipart/mixed`, `text/event-stream`) would only wrap a refusal in a body
// that is not JSON. The edge therefore keeps only the Accept entries that JSON satisfies
// (the two JSON types and the ranges `application/*` and `*/*`) before yoga chooses among
// them; a header with none left is answered 406, with a JSON body as every refusal is.

const JSON_RANGES: ReadonlySet<string> = new Set(['application/graphql-response+json', 'application/json', 'application/*', '*/*']);

/**
 * The Accept header to give yoga: undefined when the request has none (anything goes),
 * null when no entry can be satisfied with JSON.
 */
export function jsonAccept(accept: string | undefined): string | undefined | null {
  if (accept === undefined || accept.trim() === '') return undefined;
  const kept = accept.split(',').filter((entry) => JSON_RANGES.has((entry.split(';')[0] ?? '').trim().toLowerCase()));
  return kept.length === 0 ? null : kept.join(',');
}
