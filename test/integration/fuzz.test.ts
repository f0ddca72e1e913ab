// A seeded, schema-aware fuzz run against one node process (test/support/fuzzCases.ts). For
// every case: the status is below 500, every error has a contract code and none is
// INTERNAL_SERVER_ERROR, no response carries a stack, a source path or a lone surrogate,
// a request that was refused (or any query) leaves stored state exactly as it was, and the
// node stays alive and ready. ENGRAM_FUZZ_SEED and ENGRAM_FUZZ_CASES replay or widen a run;
// a failure names the seed and the case index.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUZZ_DIMENSION, FUZZ_SPACES, fuzzCases, type FuzzCase } from '../support/fuzzCases.js';
import { gqlData, Harness, repoRoot } from '../support/node.js';
import { carriesLoneSurrogate, rawRequest, type RawResponse } from '../support/rawHttp.js';

const SEED = Number(process.env['ENGRAM_FUZZ_SEED'] ?? 20261201);
const CASES = Number(process.env['ENGRAM_FUZZ_CASES'] ?? 1200);
const CODES = new Set(['BAD_USER_INPUT', 'NOT_FOUND', 'UNAUTHENTICATED', 'FORBIDDEN', 'RATE_LIMITED', 'UNAVAILABLE', 'INTERNAL_SERVER_ERROR']);
const LEAKS: readonly RegExp[] = [/\n\s+at\s+\S/, /\((?:\/|file:)[^)]*:\d+:\d+\)/, /node_modules/, /\/work\//, /\.ts:\d+:\d+/, /node:internal/];

const harness = new Harness();
let url = '';
let port = 0;

function schemaSource(): string {
  const directory = join(repoRoot, 'schema');
  return readdirSync(directory)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .map((f) => readFileSync(join(directory, f), 'utf8'))
    .join('\n');
}

/** Everything a write could change: spaces, their settings and counts, and every memory's content and version. */
async function storedState(): Promise<string> {
  const { spaces } = await gqlData<{ spaces: { id: string; dimension: number; shards: number; memoryCount: number }[] }>(url, '{ spaces { id dimension shards memoryCount } }');
  const fields = 'id kind content confidence tags metadata suppressed version episode { what when where who }';
  const memories: Record<string, unknown[]> = {};
  for (const space of spaces) {
    const list: unknown[] = [];
    let after: string | null = null;
    for (;;) {
      type Page = { edges: { node: unknown }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
      const { memories: page }: { memories: Page } = await gqlData<{ memories: Page }>(
        url,
        `query($space: ID, $after: String) { memories(space: $space, first: 100, after: $after) { edges { node { ${fields} } } pageInfo { hasNextPage endCursor } } }`,
        { space: space.id, after },
      );
      list.push(...page.edges.map((e) => e.node));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    memories[space.id] = list;
  }
  return JSON.stringify({ spaces, memories });
}

async function ready(): Promise<boolean> {
  try {
    return (await fetch(url.replace('/graphql', '/health/ready'))).status === 200;
  } catch {
    return false;
  }
}

function describeCase(fuzzCase: FuzzCase): string {
  return `seed ${SEED} case ${fuzzCase.index} (${fuzzCase.category}): ${JSON.stringify(fuzzCase.request.subarray(0, 400).toString('latin1'))}`;
}

interface Verdict {
  /** The request as a whole wrote nothing: refused, or every root field failed. */
  refused: boolean;
}

/** Checks one response; throws with the case described when a rule is broken. */
function judge(fuzzCase: FuzzCase, response: RawResponse): Verdict {
  const where = describeCase(fuzzCase);
  expect(response.status, where).toBeGreaterThanOrEqual(100);
  expect(response.status, `${where}\nstatus ${response.status}: ${response.body.slice(0, 300)}`).toBeLessThan(500);
  const type = response.header('content-type') ?? '';
  // The GraphiQL page is the package's own bundle; every other body is the node's words.
  if (!type.startsWith('text/html')) {
    for (const leak of LEAKS) expect(leak.test(response.body), `${where}\nleak ${leak}: ${response.body.slice(0, 500)}`).toBe(false);
    expect(carriesLoneSurrogate(response.body), `${where}\nlone surrogate in the response: ${response.body.slice(0, 500)}`).toBe(false);
  }
  if (response.status >= 400) expect(type, `${where}\n${response.status} without a JSON body`).toMatch(/json/);
  if (!/json/.test(type) || response.body === '') return { refused: response.status >= 400 };
  const body = JSON.parse(response.body) as { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] };
  for (const error of body.errors ?? []) {
    expect(CODES.has(error.extensions?.code ?? ''), `${where}\nerror without a contract code: ${JSON.stringify(error)}`).toBe(true);
    expect(error.extensions?.code, `${where}\nunexpected internal error: ${error.message}`).not.toBe('INTERNAL_SERVER_ERROR');
  }
  if (response.status >= 400 || body.data == null) return { refused: true };
  const values = Object.values(body.data);
  return { refused: (body.errors?.length ?? 0) > 0 && values.every((v) => v === null) };
}

beforeAll(async () => {
  const started = await harness.spawnNode(harness.directory(), { ENGRAM_MAX_SPACES: '12' });
  url = started.url;
  port = Number(new URL(url).port);
  await gqlData(url, `mutation { a: createSpace(id: "${FUZZ_SPACES[0]}", dimension: ${FUZZ_DIMENSION}) { id } b: createSpace(id: "${FUZZ_SPACES[1]}", dimension: ${FUZZ_DIMENSION}, shards: 2) { id } }`);
  for (const space of FUZZ_SPACES) {
    await gqlData(
      url,
      `mutation {
        m1: remember(space: "${space}", memory: { id: "m1", content: "coffee with ada about the launch plan", embedding: [1, 0, 0, 0], confidence: 0.9, tags: ["work"] }) { id }
        m2: remember(space: "${space}", memory: { id: "m2", content: "garden notes", embedding: [0.8, 0.6, 0, 0], tags: ["home"] }) { id }
        e1: rememberEpisode(space: "${space}", episode: { id: "ep1", what: "release standup", embedding: [0, 0, 1, 0], who: ["ada"] }) { id }
      }`,
    );
  }
}, 60_000);

afterAll(() => harness.cleanup());

describe(`fuzz, seed ${SEED}`, () => {
  it(`survives ${CASES} generated cases: no 5xx, a code on every error, no leaks, nothing changed by a refused request`, async () => {
    const cases = fuzzCases(SEED, CASES, schemaSource());
    const byCategory = new Map<string, number>();
    let state = await storedState();
    let refusedCount = 0;
    // Every broken rule is collected, so one run shows all the kinds of failure at once.
    const failures: string[] = [];
    for (const fuzzCase of cases) {
      byCategory.set(fuzzCase.category, (byCategory.get(fuzzCase.category) ?? 0) + 1);
      const head = fuzzCase.request.subarray(0, 5).toString('latin1') === 'HEAD ';
      try {
        let response: RawResponse;
        try {
          response = await rawRequest(port, fuzzCase.request, { withinMs: 15_000, headOnly: head });
        } catch (error) {
          throw new Error(`${describeCase(fuzzCase)}\nno response: ${String(error)}; node ready: ${await ready()}`);
        }
        const { refused } = judge(fuzzCase, response);
        if (refused) refusedCount++;
        const after = await storedState();
        const unchanged = after === state;
        state = after;
        if ((refused || !fuzzCase.mayWrite) && !unchanged) throw new Error(`${describeCase(fuzzCase)}\nstored state changed by a ${refused ? 'refused request' : 'query'}`);
        if (fuzzCase.index % 100 === 99 && !(await ready())) throw new Error(`${describeCase(fuzzCase)}\nnode not ready afterwards`);
      } catch (error) {
        failures.push(error instanceof Error ? error.message.split('\n').slice(0, 3).join('\n') : String(error));
        if (!(await ready())) break;
        state = await storedState();
      }
    }
    expect(failures, `${failures.length} failing cases:\n${failures.slice(0, 25).join('\n\n')}`).toEqual([]);
    expect(await ready()).toBe(true);
    console.log(`fuzz seed ${SEED}: ${cases.length} cases, ${refusedCount} refused; ${[...byCategory.entries()].map(([c, n]) => `${c} ${n}`).join(', ')}`);
  }, 300_000);
});
