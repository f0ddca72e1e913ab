// A seeded, schema-aware generator of requests a careless or hostile client might send to
// one node: GraphQL operations built from the schema with valid, borderline and hostile
// values, and malformed HTTP around them. The same seed always gives the same cases, so a
// failing case replays from its seed and index.
//
// Mechanism. A case picks a category by weight. GraphQL categories walk the schema
// (graphql-js buildSchema over schema/): a root field, arguments drawn per type (scalars,
// enums, input objects, lists) from a mix of valid values and hostile ones (wrong types,
// out-of-range numbers, lone surrogates, control characters, oversized and deeply nested
// values), passed as literals or as variables, and a random selection set. HTTP categories
// break the request around a valid operation (method, path, headers, media types, body
// encoding, query-string parameters). Each case is raw request bytes, sent on its own
// connection, so nothing a client library would refuse to send is out of reach.

import {
  buildSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import { mulberry32 } from './clusteredVectors.js';

export interface FuzzCase {
  index: number;
  category: string;
  /** Raw HTTP/1.1 request bytes. */
  request: Buffer;
  /** Whether the case is a mutation that may legitimately change stored state when accepted. */
  mayWrite: boolean;
}

/** Spaces the fuzzer writes to; they exist before the run (dimension 4, and 2 shards for the second). */
export const FUZZ_SPACES = ['fuzz-a', 'fuzz-b'] as const;
export const FUZZ_DIMENSION = 4;

type Random = () => number;

class Draw {
  constructor(readonly next: Random) {}
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    const total = items.reduce((sum, [, w]) => sum + w, 0);
    let at = this.next() * total;
    for (const [item, weight] of items) {
      at -= weight;
      if (at < 0) return item;
    }
    return items.at(-1)![0];
  }
}

// ---- values ----------------------------------------------------------------------------

/** A value for the wire: `literal` as GraphQL source, `json` for a variable. */
interface Value {
  literal: string;
  json: unknown;
  /** True when the value is one GraphQL can only carry in a variable (lone surrogates). */
  variableOnly?: boolean;
}

const plain = (json: unknown): Value => ({ literal: toLiteral(json), json });

function toLiteral(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '0';
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(toLiteral).join(', ')}]`;
  if (typeof value === 'object') return `{ ${Object.entries(value as Record<string, unknown>).map(([k, v]) => `${/^[_A-Za-z][_0-9A-Za-z]*$/.test(k) ? k : 'bad_key'}: ${toLiteral(v)}`).join(', ')} }`;
  return 'null';
}

const HOSTILE_STRINGS: readonly string[] = [
  '',
  ' ',
  'a'.repeat(300),
  'x'.repeat(70_000),
  'tab\there',
  'nul\u0000byte',
  'line\nbreak',
  '\u202Eright-to-left',
  'emoji \u{1F600}',
  '\uFFFD',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '%00%ff',
  '__proto__',
  'constructor',
  'DEFAULT',
  'Bad Space!',
  'ab',
  'a'.repeat(65),
];
const LONE_SURROGATES: readonly string[] = ['m\ud800', 'm\udfff', '\udc00x', 'a\ud83db'];
const SPACE_IDS: readonly string[] = [...FUZZ_SPACES, ...FUZZ_SPACES, 'default', 'fuzz-new-space', 'fuzz-zz', 'nope-missing'];
const MEMORY_IDS: readonly string[] = ['m1', 'm2', 'm3', 'm4', 'm5', 'ep1', 'ep2', 'm\u00e9', 'x'.repeat(129), 'has space', 'with\u0000nul'];

function stringValue(d: Draw, fieldName: string): Value {
  if (d.chance(0.05)) return { literal: '""', json: d.pick(LONE_SURROGATES), variableOnly: true };
  if (fieldName === 'space' || fieldName === 'id' && d.chance(0.3)) return plain(d.pick(fieldName === 'space' ? SPACE_IDS : MEMORY_IDS));
  if (fieldName === 'id' || fieldName === 'after') return plain(d.chance(0.8) ? d.pick(MEMORY_IDS) : d.pick(HOSTILE_STRINGS));
  if (fieldName === 'embeddingBase64') return plain(d.pick(['AACAPwAAAAAAAAAAAAAAAA==', 'AADAfwAAAAAAAAAAAAAAAA==', 'not base64!', 'AACAPw==', '']));
  if (d.chance(0.75)) return plain(d.pick(['coffee with ada', 'launch plan', 'garden', 'release notes', 'memory', 'the and of']));
  return plain(d.pick(HOSTILE_STRINGS));
}

function numberValue(d: Draw, integer: boolean, fieldName: string): Value {
  if (integer) {
    if (fieldName === 'first' || fieldName === 'maxResults') return plain(d.pick([1, 5, 10, 100, 1000, 1001, 0, -1, 2_147_483_647]));
    if (fieldName === 'dimension') return plain(d.pick([4, 4, 8, 0, -3, 5000, 4096]));
    if (fieldName === 'shards') return plain(d.pick([1, 2, 0, 300]));
    return plain(d.pick([0, 1, -1, 7, 2_147_483_647]));
  }
  return plain(d.pick([0, 0.5, 0.9, 1, 1.5, -0.1, 1e308, -1e308, 0.123456789]));
}

function embedding(d: Draw): Value {
  const length = d.weighted([[FUZZ_DIMENSION, 16], [3, 1], [768, 1], [0, 1], [5000, 0.2]] as const);
  const kind = d.weighted([['normal', 16], ['zeros', 1], ['huge', 1]] as const);
  const values = Array.from({ length }, (_, i) => (kind === 'zeros' ? 0 : kind === 'huge' ? 1e39 : ((i * 7 + d.int(0, 9)) % 10) / 10 - 0.3));
  return plain(values);
}

function jsonValue(d: Draw, depth = 0): unknown {
  const kind = d.weighted([['object', 3], ['array', 2], ['string', 2], ['number', 1], ['null', 1], ['deep', depth === 0 ? 0.3 : 0], ['big', depth === 0 ? 0.2 : 0]] as const);
  switch (kind) {
    case 'object':
      return depth > 3 ? {} : Object.fromEntries(Array.from({ length: d.int(0, 4) }, (_, i) => [d.pick(['a', 'b', 'note', '__proto__', `k${i}`]), jsonValue(d, depth + 1)]));
    case 'array':
      return depth > 3 ? [] : Array.from({ length: d.int(0, 4) }, () => jsonValue(d, depth + 1));
    case 'string':
      return d.pick(['x', 'hello', '']);
    case 'number':
      return d.pick([0, 1.5, -7, 1e300]);
    case 'null':
      return null;
    case 'deep': {
      let nested: unknown = 1;
      for (let i = 0, n = d.pick([50, 500, 3000]); i < n; i++) nested = [nested];
      return nested;
    }
    case 'big':
      return { blob: 'y'.repeat(d.pick([100, 17 * 1024])) };
  }
}

function inputValue(d: Draw, type: GraphQLInputType, fieldName: string, depth: number): Value | undefined {
  if (isNonNullType(type)) {
    if (d.chance(0.01)) return plain(null);
    return inputValue(d, type.ofType, fieldName, depth) ?? plain(null);
  }
  // A wrong type now and then: the server must refuse it cleanly.
  if (d.chance(0.015)) return plain(d.pick(['wrong', 12, true, [1, 2], { x: 1 }]));
  if (isListType(type)) {
    if (fieldName === 'embedding') return embedding(d);
    const length = d.weighted([[d.int(0, 3), 10], [70, 1]] as const);
    const items = Array.from({ length }, () => inputValue(d, type.ofType, fieldName, depth + 1) ?? plain(null));
    return { literal: `[${items.map((i) => i.literal).join(', ')}]`, json: items.map((i) => i.json), variableOnly: items.some((i) => i.variableOnly) };
  }
  const named = type as GraphQLNamedType;
  if (isEnumType(named)) return d.chance(0.9) ? { literal: d.pick(named.getValues()).name, json: d.pick(named.getValues()).name } : { literal: 'NOT_A_VALUE', json: 'not_a_value' };
  if (isInputObjectType(named)) {
    if (depth > 3) return plain({});
    const fields = Object.values(named.getFields()).filter((f) => isNonNullType(f.type) || d.chance(0.5));
    const parts = fields.map((f) => [f.name, inputValue(d, f.type, f.name, depth + 1)] as const).filter((p): p is readonly [string, Value] => p[1] !== undefined);
    if (d.chance(0.03)) parts.push(['unknownField', plain(1)] as const);
    return {
      literal: `{ ${parts.map(([k, v]) => `${k}: ${v.literal}`).join(', ')} }`,
      json: Object.fromEntries(parts.map(([k, v]) => [k, v.json])),
      variableOnly: parts.some(([, v]) => v.variableOnly),
    };
  }
  if (isScalarType(named)) {
    switch (named.name) {
      case 'Int':
        return numberValue(d, true, fieldName);
      case 'Float':
        return numberValue(d, false, fieldName);
      case 'Boolean':
        return plain(d.chance(0.5));
      case 'DateTime':
        return plain(d.pick(['2026-11-25T10:00:00Z', '2026-01-01T00:00:00.000Z', 'yesterday', '99999-01-01T00:00:00Z', '1969-12-31T23:59:59Z', '']));
      case 'JSON': {
        const json = jsonValue(d);
        return { literal: toLiteral(json), json };
      }
      default:
        return stringValue(d, fieldName);
    }
  }
  return undefined;
}

// ---- operations ------------------------------------------------------------------------

function selection(d: Draw, type: GraphQLObjectType, depth: number): string {
  const fields = Object.values(type.getFields());
  const chosen = fields.filter(() => d.chance(0.4));
  if (chosen.length === 0) chosen.push(d.pick(fields));
  const parts: string[] = [];
  for (const field of chosen.slice(0, 8)) {
    const named = getNamedType(field.type);
    const args = field.args.length > 0 && d.chance(0.5) ? `(${field.args.map((a) => `${a.name}: ${inputValue(d, a.type, a.name, 0)?.literal ?? 'null'}`).join(', ')})` : '';
    if (isObjectType(named)) {
      if (depth >= 4) continue;
      parts.push(`${field.name}${args} { ${selection(d, named, depth + 1)} }`);
    } else {
      parts.push(`${field.name}${args}`);
    }
  }
  if (d.chance(0.1)) parts.push('__typename');
  if (d.chance(0.02)) parts.push('noSuchField');
  return parts.length > 0 ? parts.join(' ') : '__typename';
}

interface Operation {
  query: string;
  variables: Record<string, unknown>;
  mutation: boolean;
}

function operation(d: Draw, schema: GraphQLSchema): Operation {
  const mutation = d.chance(0.5);
  const root = (mutation ? schema.getMutationType() : schema.getQueryType())!;
  const fields = Object.values(root.getFields());
  const count = d.weighted([[1, 10], [d.int(2, 4), 3], [31, 0.2]] as const);
  const variableDefinitions: string[] = [];
  const variables: Record<string, unknown> = {};
  const roots: string[] = [];
  for (let i = 0; i < count; i++) {
    const field: GraphQLField<unknown, unknown> = d.pick(fields);
    const args: string[] = [];
    for (const arg of field.args) {
      if (!isNonNullType(arg.type) && d.chance(0.35)) continue;
      const value = inputValue(d, arg.type, arg.name, 0);
      if (value === undefined) continue;
      if (value.variableOnly || d.chance(0.3)) {
        const name = `v${variableDefinitions.length}`;
        variableDefinitions.push(`$${name}: ${arg.type.toString()}`);
        variables[name] = value.json;
        args.push(`${arg.name}: $${name}`);
      } else {
        args.push(`${arg.name}: ${value.literal}`);
      }
    }
    const named = getNamedType(field.type);
    const body = isObjectType(named) ? ` { ${selection(d, named, 1)} }` : '';
    roots.push(`${count > 1 ? `a${i}: ` : ''}${field.name}${args.length > 0 ? `(${args.join(', ')})` : ''}${body}`);
  }
  const head = `${mutation ? 'mutation' : 'query'} Fuzz${variableDefinitions.length > 0 ? `(${variableDefinitions.join(', ')})` : ''}`;
  let query = `${head} { ${roots.join(' ')} }`;
  if (d.chance(0.05)) query = query.slice(0, d.int(1, query.length - 1)); // truncated document
  if (d.chance(0.03)) query = `${'{ memory(id: "x") '.repeat(3)}${'{ a '.repeat(d.pick([20, 2000]))}`;
  if (d.chance(0.03)) query = `{ __type(name: "Memory") { ${'ofType { '.repeat(d.pick([20, 1500]))}name${' }'.repeat(0)} } }`;
  if (d.chance(0.02)) query = `query { ${'__typename @include(if: true) '.repeat(30)} }`;
  return { query, variables, mutation };
}

// ---- HTTP ------------------------------------------------------------------------------

function http(method: string, path: string, headers: Record<string, string>, body?: Buffer | string): Buffer {
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
  const lines = [`${method} ${path} HTTP/1.1`];
  const all: Record<string, string> = { host: '127.0.0.1', connection: 'close', ...headers };
  if (payload !== undefined && !('content-length' in all) && !('transfer-encoding' in all)) all['content-length'] = String(payload.length);
  for (const [name, value] of Object.entries(all)) lines.push(`${name}: ${value}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload ?? Buffer.alloc(0)]);
}

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };

function graphqlPost(op: Operation, extra: Record<string, string> = {}): Buffer {
  return http('POST', '/graphql', { ...JSON_HEADERS, ...extra }, JSON.stringify({ query: op.query, variables: op.variables, operationName: 'Fuzz' }));
}

type Category = readonly [string, (d: Draw, schema: GraphQLSchema) => { request: Buffer; mayWrite: boolean }];

const CATEGORIES: readonly (readonly [Category, number])[] = [
  [['graphql-post', (d, s) => { const op = operation(d, s); return { request: graphqlPost(op), mayWrite: op.mutation }; }], 60],
  [['graphql-header-space', (d, s) => { const op = operation(d, s); return { request: graphqlPost(op, { 'x-memory-space': d.pick([...SPACE_IDS, 'NOT VALID', '']) }), mayWrite: op.mutation }; }], 6],
  [['graphql-get', (d, s) => {
    const op = operation(d, s);
    const params = new URLSearchParams({ query: op.query });
    if (d.chance(0.5)) params.set('variables', d.chance(0.7) ? JSON.stringify(op.variables) : d.pick(['notjson', '[1,2]', '{"a":', 'null']));
    if (d.chance(0.2)) params.set('extensions', d.pick(['notjson', '{}', '{"persistedQuery":{"version":1,"sha256Hash":"abc"}}']));
    return { request: http(d.pick(['GET', 'GET', 'HEAD']), `/graphql?${params.toString()}`, { accept: d.pick(['application/json', 'application/graphql-response+json', '*/*', 'text/html']) }), mayWrite: false };
  }], 8],
  [['media-types', (d, s) => {
    const op = operation(d, s);
    const body = JSON.stringify({ query: op.query, variables: op.variables });
    const type = d.pick(['APPLICATION/JSON', 'application/json; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain', 'application/graphql', '', 'application/json; charset=latin1']);
    const accept = d.pick(['application/json', 'APPLICATION/GRAPHQL-RESPONSE+JSON', 'text/plain', 'text/event-stream', 'multipart/mixed', '*/*', 'application/xml']);
    return { request: http('POST', '/graphql', { 'content-type': type, accept }, type.startsWith('application/x-www') ? new URLSearchParams({ query: op.query }).toString() : body), mayWrite: op.mutation };
  }], 6],
  [['malformed-body', (d) => {
    const body = d.pick(['{not json', '', '[1, 2', '"just a string"', '{"query": 5}', '{"query": "{ cluster { mode } }", "variables": "x"}', '[{"query":"{ cluster { mode } }"}]', '{"query": null}', '\u0000\u0001', '{"query":"{ cluster { mode } }","variables":' + '['.repeat(5000) + ']'.repeat(5000) + '}', JSON.stringify({ query: '{ cluster { mode } }', extensions: 'nope' })]);
    return { request: http('POST', '/graphql', JSON_HEADERS, body), mayWrite: false };
  }], 6],
  [['methods-and-paths', (d) => {
    const method = d.pick(['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'GET', 'BREW']);
    const path = d.pick(['/graphql', '/graphql/', '/GRAPHQL', '/health/live', '/health/ready', '/metrics', '/', '/nope', '/graphql?query=%ZZ', '/%2e%2e/etc', '//graphql', '*']);
    const headers: Record<string, string> = d.chance(0.3) ? { origin: d.pick(['http://evil.example', 'null', 'http://127.0.0.1:4000']), 'access-control-request-method': 'POST' } : {};
    return { request: http(method, path, headers), mayWrite: false };
  }], 5],
  [['headers', (d, s) => {
    const op = operation(d, s);
    const headers: Record<string, string> = { ...JSON_HEADERS };
    const which = d.pick(['host', 'accept', 'encoding', 'length', 'trace', 'read']);
    if (which === 'host') headers['host'] = d.pick(['[', 'a b', 'localhost:99999', '', 'x'.repeat(300)]);
    if (which === 'accept') headers['accept'] = d.pick(['', ';;;', 'application/json;q=0', 'text/*']);
    if (which === 'encoding') headers['accept-encoding'] = d.pick(['gzip', 'br', 'identity;q=0', 'bogus']);
    if (which === 'length') headers['content-length'] = d.pick(['-1', 'abc', '99999999999']);
    if (which === 'trace') headers['traceparent'] = d.pick(['garbage', '00-00000000000000000000000000000000-0000000000000000-01', '00-' + 'f'.repeat(32) + '-' + 'f'.repeat(16) + '-ff']);
    if (which === 'read') headers['x-engram-read'] = d.pick(['replica', 'REPLICA', 'nonsense']);
    const body = JSON.stringify({ query: op.query, variables: op.variables });
    return { request: which === 'length' && headers['content-length'] !== undefined ? Buffer.concat([http('POST', '/graphql', headers), Buffer.from(body)]) : http('POST', '/graphql', headers, body), mayWrite: op.mutation };
  }], 5],
  [['introspection', (d) => {
    const query = d.pick(['{ __schema { types { name kind } } }', '{ __type(name: "Memory") { name fields { name type { name kind ofType { name } } } } }', '{ __schema { queryType { name } mutationType { name } } }']);
    return { request: http('POST', '/graphql', JSON_HEADERS, JSON.stringify({ query })), mayWrite: false };
  }], 2],
  [['operation-shape', (d) => {
    const query = d.pick([
      'query A { cluster { mode } } query B { spaces { id } }',
      'subscription { cluster { mode } }',
      'fragment F on Query { spaces { id } } query { ...F ...F }',
      'fragment F on Query { ...G } fragment G on Query { ...F } { ...F }',
      'query($n: Int) { memories(space: "fuzz-a", first: $n) { totalCount } }',
      '{ recall(space: "fuzz-a", cue: { text: "' + Array.from({ length: 9300 }, (_, i) => `w${i}`).join(' ').slice(0, 60_000) + '" }) { partial } }',
    ]);
    const operationName = d.pick([undefined, 'A', 'B', 'Missing']);
    return { request: http('POST', '/graphql', JSON_HEADERS, JSON.stringify({ query, operationName, variables: { n: d.pick([1000, 10, 'x']) } })), mayWrite: false };
  }], 2],
];

/** The cases of one seeded run, in order. */
export function fuzzCases(seed: number, count: number, schemaSource: string): FuzzCase[] {
  const schema = buildSchema(schemaSource);
  const d = new Draw(mulberry32(seed));
  const out: FuzzCase[] = [];
  for (let index = 0; index < count; index++) {
    const [category, make] = d.weighted(CATEGORIES);
    const { request, mayWrite } = make(d, schema);
    out.push({ index, category, request, mayWrite });
  }
  return out;
}
