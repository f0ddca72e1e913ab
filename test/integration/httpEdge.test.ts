// The HTTP edge of one node, driven over real HTTP and raw sockets: malformed requests get
// a 4xx with a JSON body and a code (never a 5xx or a stack), only JSON may be POSTed,
// CORS is off unless configured, abandoned uploads are counted quietly, and operations
// are priced by their variables, text cues and nesting before anything runs.
import { request as httpRequest } from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presets, type Config } from '../../src/config.js';
import { startNode, type EngramNode } from '../../src/server/app.js';
import { eventually, Harness, type TestNode } from '../support/node.js';
import { metricValue, openSocket, rawGraphqlPost, rawRequest } from '../support/rawHttp.js';

const harness = new Harness();
let node: TestNode;
let port: number;
let graphqlUrl: string;
const extraNodes: EngramNode[] = [];

beforeAll(async () => {
  node = await harness.startNode();
  port = node.port;
  graphqlUrl = node.url;
});
afterAll(async () => {
  await Promise.allSettled(extraNodes.map((extra) => extra.close()));
  await harness.cleanup();
});

type ErrorJson = { errors: { message: string; extensions: { code: string; limit?: string; reason?: string; retryAfterMs?: number } }[] };

/** The response's JSON error body; fails the test unless it has errors with codes and no stack or path. */
function expectJsonError(body: string, code = 'BAD_USER_INPUT'): ErrorJson {
  const parsed = JSON.parse(body) as ErrorJson;
  expect(parsed.errors.length).toBeGreaterThan(0);
  for (const error of parsed.errors) expect(error.extensions.code).toBe(code);
  expect(body).not.toMatch(/\bat .+:\d+:\d+|node_modules|\/work\/|stack/);
  return parsed;
}

async function postRaw(body: string, headers: Record<string, string>, url = graphqlUrl): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(url, { method: 'POST', headers, body });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

async function memoryExists(id: string): Promise<boolean> {
  return (await node.gql(`{ memory(id: "${id}") { id } }`)).memory !== null;
}

describe('malformed requests get a 4xx with a JSON body and a code', () => {
  it('serves every path whatever the Host header holds, since the URL is never built from it', async () => {
    for (const host of ['[', 'a b', 'localhost:99999', '']) {
      const graphql = await rawRequest(port, rawGraphqlPost('{ cluster { partitioned } }', host));
      expect(graphql.status).toBe(200);
      expect(JSON.parse(graphql.body)).toEqual({ data: { cluster: { partitioned: false } } });
      for (const path of ['/health/live', '/health/ready', '/metrics']) {
        const response = await rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
        expect(response.status).toBe(200);
      }
      const missing = await rawRequest(port, `GET /nowhere HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect(missing.status).toBe(404);
      expectJsonError(missing.body, 'NOT_FOUND');
    }
  });

  it('answers a request target that is not a path with 400 and a code', async () => {
    for (const target of ['*', 'http://[/graphql', 'example.com:443']) {
      const response = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(response.status, target).toBe(400);
      expectJsonError(response.body);
    }
  });

  it('answers an HTTP/1.1 request without Host with 400 and a code, and serves HTTP/1.0 without one', async () => {
    const missing = await rawRequest(port, 'GET /health/live HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(missing.status).toBe(400);
    expectJsonError(missing.body);
    const old = await rawRequest(port, 'GET /health/live HTTP/1.0\r\n\r\n');
    expect(old.status).toBe(200);
  });

  it('answers bytes that are not HTTP, and oversized headers, with a JSON body the parser could not give', async () => {
    const garbage = await rawRequest(port, 'HELLO THERE\r\n\r\n');
    expect(garbage.status).toBe(400);
    expectJsonError(garbage.body);
    const huge = await rawRequest(port, `GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(huge.status).toBe(431);
    expectJsonError(huge.body);
  });

  it('answers variables or extensions that are not JSON in a GET with 400 BAD_USER_INPUT', async () => {
    for (const parameter of ['variables', 'extensions']) {
      const response = await fetch(`${graphqlUrl}?query=${encodeURIComponent('{ cluster { partitioned } }')}&${parameter}=notjson`);
      expect(response.status).toBe(400);
      expectJsonError(await response.text());
    }
  });

  it('answers an unacceptable Accept with 406 and a JSON body with a code', async () => {
    const response = await postRaw(JSON.stringify({ query: '{ cluster { partitioned } }' }), { 'content-type': 'application/json', accept: 'text/xml' });
    expect(response.status).toBe(406);
    expectJsonError(response.text);
  });

  it('answers in JSON when Accept also lists a streaming encoding, and 406 in JSON when it lists only those', async () => {
    const body = JSON.stringify({ query: '{ cluster { partitioned nonsense } }' });
    const mixed = await postRaw(body, { 'content-type': 'application/json', accept: 'multipart/mixed;deferSpec=20220824, application/json' });
    expect(mixed.headers.get('content-type')).toMatch(/^application\/json/);
    expectJsonError(mixed.text);
    for (const accept of ['multipart/mixed', 'text/event-stream']) {
      const streaming = await postRaw(body, { 'content-type': 'application/json', accept });
      expect(streaming.status, accept).toBe(406);
      expect(streaming.headers.get('content-type')).toMatch(/^application\/json/);
      expectJsonError(streaming.text);
    }
  });

  it('answers a mutation over GET with 405 and a JSON body with a code', async () => {
    const response = await fetch(`${graphqlUrl}?query=${encodeURIComponent('mutation { remember(memory: { id: "via-get", content: "x" }) { id } }')}`);
    expect(response.status).toBe(405);
    expectJsonError(await response.text());
    expect(await memoryExists('via-get')).toBe(false);
  });

  it('answers methods a path does not serve with 405 and a JSON body', async () => {
    for (const [method, path] of [['PUT', '/graphql'], ['DELETE', '/graphql'], ['POST', '/health/live'], ['POST', '/metrics']] as const) {
      const response = await fetch(graphqlUrl.replace('/graphql', path), { method });
      expect(response.status, `${method} ${path}`).toBe(405);
      expectJsonError(await response.text());
    }
  });
});

describe('POST bodies must be JSON, so a cross-site form cannot write', () => {
  it('refuses form, multipart and text POSTs with 415 and a JSON body, and writes nothing', async () => {
    const mutation = 'mutation { remember(memory: { id: "from-a-form", content: "x" }) { id } }';
    const form = new FormData();
    form.set('query', mutation);
    const bodies: [string, BodyInit, Record<string, string>][] = [
      ['urlencoded', new URLSearchParams({ query: mutation }).toString(), { 'content-type': 'application/x-www-form-urlencoded' }],
      ['multipart', form, {}],
      ['text', JSON.stringify({ query: mutation }), { 'content-type': 'text/plain' }],
      ['graphql', mutation, { 'content-type': 'application/graphql' }],
    ];
    for (const [name, body, headers] of bodies) {
      const response = await fetch(graphqlUrl, { method: 'POST', headers, body });
      expect(response.status, name).toBe(415);
      expectJsonError(await response.text());
    }
    expect(await memoryExists('from-a-form')).toBe(false);
  });

  it('refuses a POST without a Content-Type, or with a charset other than UTF-8, with 415', async () => {
    const body = JSON.stringify({ query: '{ cluster { partitioned } }' });
    const missing = await rawRequest(port, `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    expect(missing.status).toBe(415);
    expectJsonError(missing.body);
    const latin1 = await postRaw(body, { 'content-type': 'application/json; charset=iso-8859-1' });
    expect(latin1.status).toBe(415);
  });

  it('accepts JSON media types in any letter case, as media types are case-insensitive', async () => {
    for (const contentType of ['APPLICATION/JSON', 'Application/Json; Charset=UTF-8', 'application/graphql-response+json', 'application/json;charset="utf-8"']) {
      const response = await postRaw(JSON.stringify({ query: '{ cluster { partitioned } }' }), { 'content-type': contentType });
      expect(response.status, contentType).toBe(200);
      expect(JSON.parse(response.text)).toEqual({ data: { cluster: { partitioned: false } } });
    }
  });

  it('answers a JSON body that is not a GraphQL request object with 400', async () => {
    for (const body of ['[{"query":"{ cluster { partitioned } }"}]', 'null', '12', '{"query": 12}']) {
      const response = await postRaw(body, { 'content-type': 'application/json' });
      expect(response.status, body).toBe(400);
      expectJsonError(response.text);
    }
  });
});

describe('one Content-Length per response', () => {
  it('answers OPTIONS with 204 and no Content-Length, which Node\'s own HTTP client accepts', async () => {
    const raw = await rawRequest(port, 'OPTIONS /graphql HTTP/1.1\r\nHost: x\r\nOrigin: https://elsewhere.example\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n');
    expect(raw.status).toBe(204);
    expect(raw.count('content-length')).toBe(0);
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(graphqlUrl, { method: 'OPTIONS' }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', reject);
      request.end();
    });
    expect(status).toBe(204);
  });

  it('sends exactly one Content-Length on GraphQL answers, errors and the edge\'s own refusals', async () => {
    const body = JSON.stringify({ query: '{ cluster { partitioned } }' });
    for (const request of [
      `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      'GET /graphql?query=%7B HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'PATCH /graphql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ]) {
      const response = await rawRequest(port, request);
      expect(response.count('content-length'), request.split('\r\n')[0]).toBe(1);
    }
  });
});

describe('CORS', () => {
  async function corsHeaders(url: string, origin: string): Promise<{ preflight: Record<string, string>; post: Record<string, string> }> {
    const pick = (headers: Headers) => Object.fromEntries([...headers.entries()].filter(([name]) => name.startsWith('access-control-') || name === 'vary'));
    const preflight = await fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    const post = await fetch(url, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ cluster { partitioned } }' }) });
    await post.text();
    return { preflight: pick(preflight.headers), post: pick(post.headers) };
  }

  async function nodeWithOrigins(origins: Config['http']['corsOrigins']): Promise<string> {
    const started = await harness.startNode({ http: { ...presets.test.http, corsOrigins: origins } });
    return started.url;
  }

  it('sends no CORS headers at all by default, whatever the Origin', async () => {
    const { preflight, post } = await corsHeaders(graphqlUrl, 'https://evil.example');
    expect(preflight).toEqual({});
    expect(post).toEqual({});
  });

  it('allows only the configured exact origins, with credentials', async () => {
    const url = await nodeWithOrigins(['https://app.example']);
    const allowed = await corsHeaders(url, 'https://app.example');
    expect(allowed.post).toEqual({ 'access-control-allow-origin': 'https://app.example', 'access-control-allow-credentials': 'true', vary: 'Origin' });
    expect(allowed.preflight['access-control-allow-origin']).toBe('https://app.example');
    expect(allowed.preflight['access-control-allow-methods']).toContain('POST');
    expect(allowed.preflight['access-control-allow-headers']).toContain('content-type');
    const other = await corsHeaders(url, 'https://evil.example');
    expect(other.post['access-control-allow-origin']).toBeUndefined();
    expect(other.preflight['access-control-allow-origin']).toBeUndefined();
    expect(other.post['access-control-allow-credentials']).toBeUndefined();
  });

  it('allows any origin without credentials when the setting is *', async () => {
    const url = await nodeWithOrigins('*');
    const { preflight, post } = await corsHeaders(url, 'https://anyone.example');
    expect(post['access-control-allow-origin']).toBe('*');
    expect(post['access-control-allow-credentials']).toBeUndefined();
    expect(preflight['access-control-allow-origin']).toBe('*');
    expect(preflight['access-control-allow-credentials']).toBeUndefined();
  });
});

describe('abandoned uploads', () => {
  it('counts an upload abandoned mid-body and logs it at debug, with nothing at warn or above', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    const logged = await startNode({ ...presets.test, dataDir: harness.directory() }, logger);
    extraNodes.push(logged);
    const socket = await openSocket(logged.port);
    socket.write('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"query":"mut');
    await eventually(5000, async () => {
      if ((await metricValue(logged.url, 'engram_http_buffered_body_bytes')) === 0) throw new Error('body not buffered yet');
    });
    socket.destroy();
    await eventually(5000, async () => {
      if ((await metricValue(logged.url, 'engram_http_aborted_requests_total')) !== 1) throw new Error('abort not counted yet');
    });
    expect(await metricValue(logged.url, 'engram_http_buffered_body_bytes')).toBe(0);
    const entries = lines.map((line) => JSON.parse(line) as { level: number; msg?: string; err?: unknown });
    expect(entries.filter((entry) => entry.level >= 40)).toEqual([]);
    expect(lines.join('\n')).not.toContain('"stack"');
    expect(entries.some((entry) => entry.level === 20 && entry.msg === 'client abandoned its request body')).toBe(true);
  });
});

describe('nesting is refused before anything recurses', () => {
  const levels = 2000;
  const deepList = `${'['.repeat(levels)}${']'.repeat(levels)}`;

  it('refuses lists nested 2000 deep in metadata or tags, selections and __type with 400', async () => {
    const documents = {
      metadata: `mutation { remember(memory: { id: "deep", content: "x", metadata: ${deepList} }) { id } }`,
      tags: `mutation { remember(memory: { id: "deep", content: "x", tags: ${deepList} }) { id } }`,
      selections: `${'{ memory(id: "x") { pattern { memory '.repeat(levels / 4)}${'} } }'.repeat(levels / 4)}`,
      introspection: `{ __type(name: "Memory") { ${'ofType { '.repeat(levels)}name${' }'.repeat(levels)} } }`,
    };
    for (const [name, query] of Object.entries(documents)) {
      const response = await node.post(query);
      expect(response.status, name).toBe(400);
      expect(response.body.errors?.map((e) => e.extensions?.['limit']), name).toEqual(['nesting']);
      expect(response.body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    }
    expect(await memoryExists('deep')).toBe(false);
  });

  it('refuses a JSON variable nested deeper than the JSON depth limit, and the node keeps serving', async () => {
    const deepValue = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    const body = `{"query":"mutation($m: JSON) { remember(memory: { id: \\"deep-json\\", content: \\"x\\", metadata: $m }) { id } }","variables":{"m":${deepValue}}}`;
    const response = await postRaw(body, { 'content-type': 'application/json' });
    expect(response.status).toBe(400);
    expect(expectJsonError(response.text).errors[0]!.extensions.limit).toBe('jsonDepth');
    const extensions = await postRaw(`{"query":"{ cluster { partitioned } }","extensions":${deepValue}}`, { 'content-type': 'application/json' });
    expect(extensions.status).toBe(400);
    expect(await memoryExists('deep-json')).toBe(false);
  });
});

describe('operation cost uses variable values and text cues', () => {
  const embeddingPages = (aliases: number, size: string) =>
    Array.from({ length: aliases }, (_, i) => `a${i}: memories(first: ${size}) { edges { node { embedding } } }`).join(' ');

  it('refuses ten aliased pages whose size is a variable of 1000, as it refuses the literal', async () => {
    const byVariable = await node.post(`query($n: Int) { ${embeddingPages(10, '$n')} }`, { n: 1000 });
    const byLiteral = await node.post(`{ ${embeddingPages(10, '1000')} }`);
    for (const response of [byVariable, byLiteral]) {
      expect(response.status).toBe(400);
      expect(response.body.data).toBeUndefined();
      expect(response.body.errors?.map((e) => [e.extensions?.['code'], e.extensions?.['limit']])).toEqual([['BAD_USER_INPUT', 'cost']]);
    }
    expect(byVariable.body.errors?.[0]?.message).toBe(byLiteral.body.errors?.[0]?.message);
    const small = await node.post(`query($n: Int) { ${embeddingPages(10, '$n')} }`, { n: 2 });
    expect(small.status).toBe(200);
  });

  it('prices a recall options object given as a variable by its maxResults', async () => {
    const query = `query($o: RecallOptions) { ${Array.from({ length: 3 }, (_, i) => `r${i}: recall(cue: { text: "coffee" }, options: $o) { memories { memory { id content tags } } }`).join(' ')} }`;
    expect((await node.post(query, { o: { maxResults: 1000 } })).status).toBe(400);
    expect((await node.post(query, { o: { maxResults: 5 } })).status).toBe(200);
  });

  it('charges recall for each distinct word of its text cue, literal or variable', async () => {
    // 30 recalls * (50 + 5 per word + partial 1): 30 words cost 6030, over the limit of 5000; two words cost 1830.
    const recalls = (cue: string) => `{ ${Array.from({ length: 30 }, (_, i) => `r${i}: recall(cue: { text: ${cue} }, options: { maxResults: 1 }) { partial }`).join(' ')} }`;
    const manyWords = Array.from({ length: 30 }, (_, i) => `term${i}`).join(' ');
    const literal = await node.post(recalls(JSON.stringify(manyWords)));
    expect(literal.status).toBe(400);
    expect(literal.body.errors?.[0]?.extensions?.['limit']).toBe('cost');
    const variable = await node.post(`query($t: String) ${recalls('$t')}`, { t: manyWords });
    expect(variable.status).toBe(400);
    expect(variable.body.errors?.[0]?.extensions?.['limit']).toBe('cost');
    expect((await node.post(`query($t: String) ${recalls('$t')}`, { t: 'one term' })).status).toBe(200);
  });
});
