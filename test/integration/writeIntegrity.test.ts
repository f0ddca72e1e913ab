// A refused write leaves no trace (not even its space), every root field of a mutation is
// reported whether it was committed or not, ids that are not well-formed Unicode are
// refused instead of aliasing each other, and the number of spaces is bounded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presets } from '../../src/config.js';
import { Harness, postGraphql, type TestNode } from '../support/node.js';
import { carriesLoneSurrogate } from '../support/rawHttp.js';

const harness = new Harness();
afterAll(() => harness.cleanup());

async function spaceIds(node: TestNode): Promise<string[]> {
  return (await node.gql<{ spaces: { id: string }[] }>('{ spaces { id } }')).spaces.map((s) => s.id);
}

async function metricsText(node: TestNode): Promise<string> {
  return (await fetch(node.url.replace('/graphql', '/metrics'))).text();
}

/** Raw response text, so a test can see exactly what a strict JSON parser would get. */
async function rawPost(url: string, body: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' }, body });
  return { status: response.status, text: await response.text() };
}


describe('a refused write creates nothing', () => {
  let node: TestNode;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = harness.directory();
    node = await harness.startNode({ dataDir });
  });

  const refused: { name: string; query: string; variables?: Record<string, unknown>; headers?: Record<string, string> }[] = [
    { name: 'remember with confidence 7', query: 'mutation { remember(space: "ghost-a", memory: { content: "x", confidence: 7 }) { id } }' },
    { name: 'rememberEpisode with vividness 3', query: 'mutation { rememberEpisode(space: "ghost-b", episode: { what: "x", vividness: 3 }) { id } }' },
    { name: 'remember through the x-memory-space header', query: 'mutation { remember(memory: { content: "x", confidence: 7 }) { id } }', headers: { 'x-memory-space': 'ghost-c' } },
    { name: 'an embedding of the wrong length for a new space', query: 'mutation { remember(space: "ghost-d", memory: { content: "x", embedding: [1, 2, 3] }) { id } }' },
    { name: 'an update-only input for a space that cannot hold the memory', query: 'mutation { remember(space: "ghost-e", memory: { id: "x", tags: ["a"] }) { id } }' },
    { name: 'content holding a lone surrogate', query: 'mutation($c: String) { remember(space: "ghost-f", memory: { content: $c }) { id } }', variables: { c: 'a\ud800b' } },
    { name: 'metadata with a lone surrogate in a key', query: 'mutation($m: JSON) { remember(space: "ghost-g", memory: { content: "x", metadata: $m }) { id } }', variables: { m: { ['k\udc00']: 1 } } },
  ];

  for (const testCase of refused) {
    it(`refuses ${testCase.name} without creating its space`, async () => {
      const response = await node.post(testCase.query, testCase.variables, testCase.headers);
      expect(response.status).toBeLessThan(500);
      expect(response.body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
      expect((await spaceIds(node)).filter((id) => id.startsWith('ghost'))).toEqual([]);
      expect(await metricsText(node)).not.toContain('space="ghost');
    });
  }

  it('refusedWrites_leaveNoSpaceBehind_afterARestart', async () => {
    await node.close();
    node = await harness.startNode({ dataDir });
    expect((await spaceIds(node)).filter((id) => id.startsWith('ghost'))).toEqual([]);
  });

  it('aValidWrite_toANewSpace_stillCreatesIt', async () => {
    const data = await node.gql('mutation { remember(space: "fresh-space", memory: { content: "x" }) { id } }');
    expect(data.remember.id).toBeTypeOf('string');
    expect(await spaceIds(node)).toContain('fresh-space');
  });

  it('readsAndForgets_ofAnUnknownSpace_areNotFound_andCreateNothing', async () => {
    for (const query of ['{ memory(space: "ghost-r", id: "x") { id } }', '{ recall(space: "ghost-r", cue: { text: "x" }) { partial } }', 'mutation { forget(space: "ghost-r", id: "x") { affected } }', 'mutation { consolidate(space: "ghost-r") { patternsCreated } }']) {
      const response = await node.post(query);
      expect(response.body.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    }
    expect(await spaceIds(node)).not.toContain('ghost-r');
  });
});

describe('a mutation with several root fields', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await harness.startNode();
    await node.gql('mutation { createSpace(id: "multi", dimension: 4) { id } }');
  });

  it('reportsEveryRootField_committedOrNot_andRunsTheFieldsAfterAFailure', async () => {
    const response = await node.post(`mutation {
      a0: remember(space: "multi", memory: { id: "m0", content: "first" }) { id }
      a1: remember(space: "multi", memory: { id: "m1", content: "second", confidence: 7 }) { id }
      a2: remember(space: "multi", memory: { id: "m2", content: "third" }) { id }
    }`);
    expect(response.status).toBe(200);
    expect(response.body.data).toEqual({ a0: { id: 'm0' }, a1: null, a2: { id: 'm2' } });
    expect(response.body.errors).toHaveLength(1);
    expect(response.body.errors![0]!.path).toEqual(['a1']);
    expect(response.body.errors![0]!.extensions?.['code']).toBe('BAD_USER_INPUT');
    const stored = await node.gql('{ a: memory(space: "multi", id: "m0") { id } b: memory(space: "multi", id: "m1") { id } c: memory(space: "multi", id: "m2") { id } }');
    expect(stored).toEqual({ a: { id: 'm0' }, b: null, c: { id: 'm2' } });
  });
});

describe('ids that are not well-formed Unicode', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await harness.startNode();
    await node.gql('mutation { createSpace(id: "uni", dimension: 4) { id } }');
  });

  it('areRefused_soLoneSurrogatesNeverAliasAnotherId', async () => {
    for (const id of ['m\ud800', 'm\udfff', 'a\udc00b', '\ud83d']) {
      const body = JSON.stringify({ query: 'mutation($id: ID) { remember(space: "uni", memory: { id: $id, content: "x" }) { id } }', variables: { id } });
      const { status, text } = await rawPost(node.url, body);
      expect(status).toBeLessThan(500);
      expect(JSON.parse(text).errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(carriesLoneSurrogate(text)).toBe(false);
    }
    const stored = await node.gql('mutation { remember(space: "uni", memory: { id: "m\\uFFFD", content: "replacement" }) { id } }');
    expect(stored.remember.id).toBe('m\ufffd');
    const page = await node.gql('{ memories(space: "uni") { totalCount } }');
    expect(page.memories.totalCount).toBe(1);
    // A well-formed pair is an ordinary character.
    const emoji = await node.gql('mutation($id: ID) { remember(space: "uni", memory: { id: $id, content: "x" }) { id } }', { id: 'm\ud83d\ude00' });
    expect(emoji.remember.id).toBe('m\u{1f600}');
  });

  it('neverEchoesALoneSurrogate_inAnErrorMessage', async () => {
    const requests = [
      // Quoted by Engram's own validation.
      { query: 'query($s: ID) { memory(space: $s, id: "x") { id } }', variables: { s: 'bad\ud800space' } },
      // Quoted by graphql-js's variable coercion.
      { query: 'query($n: Int) { memories(space: "uni", first: $n) { totalCount } }', variables: { n: 'x\udc00' } },
      { query: 'query($m: RecallMode) { recall(space: "uni", cue: { text: "x" }, options: { mode: $m }) { partial } }', variables: { m: '\ud800' } },
    ];
    for (const request of requests) {
      const { status, text } = await rawPost(node.url, JSON.stringify(request));
      expect(status).toBeLessThan(500);
      expect(JSON.parse(text).errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(carriesLoneSurrogate(text)).toBe(false);
    }
  });
});

describe('the number of spaces', () => {
  it('isBounded_withAClearError_aMetric_andNoSeriesForARefusedSpace', async () => {
    const node = await harness.startNode({ engine: { ...presets.test.engine, maxSpaces: 3 } });
    // "default" is the first of the three.
    await node.gql('mutation { a: createSpace(id: "one", dimension: 4) { id } b: createSpace(id: "two", dimension: 4) { id } }');
    const refused = await node.post('mutation { createSpace(id: "three", dimension: 4) { id } }');
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'spaces', maxSpaces: 3 });
    const byWrite = await node.post('mutation { remember(space: "four", memory: { content: "x" }) { id } }');
    expect(byWrite.body.errors?.[0]?.extensions?.['limit']).toBe('spaces');
    expect((await spaceIds(node)).sort()).toEqual(['default', 'one', 'two']);
    const metrics = await metricsText(node);
    expect(metrics).toMatch(/engram_space_limit_rejections\{[^}]*\} 2/);
    expect(metrics).toMatch(/engram_spaces\{[^}]*kind="current"[^}]*\} 3/);
    expect(metrics).not.toContain('space="three"');
    expect(metrics).not.toContain('space="four"');
    // Existing spaces keep working.
    expect((await node.gql('mutation { remember(space: "one", memory: { content: "x" }) { id } }')).remember.id).toBeTypeOf('string');
  });

  it('withAutoCreationOff_aWriteToAnUnknownSpace_isNotFound', async () => {
    const node = await harness.startNode({ engine: { ...presets.test.engine, autoCreateSpaces: false } });
    const response = await postGraphql(node.url, 'mutation { remember(space: "nowhere", memory: { content: "x" }) { id } }');
    expect(response.body.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    expect(await spaceIds(node)).not.toContain('nowhere');
    await node.gql('mutation { createSpace(id: "nowhere", dimension: 4) { id } }');
    expect((await node.gql('mutation { remember(space: "nowhere", memory: { content: "x" }) { id } }')).remember.id).toBeTypeOf('string');
  });
});

describe('text cues', () => {
  it('a64KiBCueOfThousandsOfWords_isRefused_withItsLimit', async () => {
    const node = await harness.startNode();
    await node.gql('mutation { createSpace(id: "cues", dimension: 4) { id } }');
    await node.gql('mutation { remember(space: "cues", memory: { content: "w1 w2 w3 launch plan" }) { id } }');
    const words = Array.from({ length: 9300 }, (_, i) => `w${i}`).join(' ').slice(0, 64 * 1024);
    const response = await node.post('query($t: String) { recall(space: "cues", cue: { text: $t }) { memories { memory { id } } } }', { t: words });
    expect(response.status).toBeLessThan(500);
    expect(response.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(['cueTerms', 'cost']).toContain(response.body.errors?.[0]?.extensions?.['limit']);
    // Up to the limit a cue is served.
    const ok = await node.gql('{ recall(space: "cues", cue: { text: "launch plan w1 w2 w3" }) { memories { memory { id } } } }');
    expect(ok.recall.memories).toHaveLength(1);
  });
});
