import { beforeEach, describe, expect, it, vi } from 'vitest';
import { getIntrospectionQuery, parse, specifiedRules, validate } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import {
  defaultOperationLimits,
  operationLimitRules,
  useOperationLimits,
} from '../../src/server/operationLimits.js';
import type { CostModel, OperationLimits } from '../../src/server/operationLimits.js';

// graphql 16 ships CJS (index.js) and ESM (index.mjs) builds with no
// "exports" map. Vite resolves `graphql` to index.mjs, while graphql-yoga is
// loaded by Node and gets index.js. Two realms break graphql's instanceof
// checks. Pin this file and the module under test to the build yoga uses,
// as in production.
vi.mock('graphql', async () => {
  const { createRequire } = await import('node:module');
  return createRequire(import.meta.url)('graphql') as typeof import('graphql');
});

const typeDefs = /* GraphQL */ `
  input RecallOptions {
    maxResults: Int
    minScore: Float
  }
  type Memory {
    id: ID!
    content: String!
  }
  type ScoredMemory {
    score: Float!
    memory: Memory!
  }
  type RecallResult {
    memories: [ScoredMemory!]!
  }
  type Node {
    id: ID!
    child: Node
  }
  type Query {
    recall(cue: String!, options: RecallOptions): RecallResult!
    memories(first: Int): [Memory!]!
    node: Node
  }
  type Mutation {
    remember(content: String!): Memory!
  }
`;

const costs = { 'Query.recall': 50, 'Mutation.remember': 10, 'Mutation.consolidate': 500 };

const calls = { recall: 0, memories: 0, node: 0, remember: 0 };

const schema = createSchema({
  typeDefs,
  resolvers: {
    Query: {
      recall: (_: unknown, args: { cue: string }) => {
        calls.recall += 1;
        return { memories: [{ score: 0.9, memory: { id: 'm1', content: args.cue } }] };
      },
      memories: () => {
        calls.memories += 1;
        return [{ id: 'm1', content: 'first' }];
      },
      node: () => {
        calls.node += 1;
        return { id: 'n0' };
      },
    },
    Node: {
      child: (parent: { id: string }) => ({ id: `${parent.id}'` }),
    },
    Mutation: {
      remember: (_: unknown, args: { content: string }) => {
        calls.remember += 1;
        return { id: 'm2', content: args.content };
      },
    },
  },
});

function makeYoga(limits: OperationLimits = defaultOperationLimits, model: CostModel = {}) {
  return createYoga({ schema, logging: false, plugins: [useOperationLimits(limits, costs, model)] });
}

const yoga = makeYoga();

interface GraphQLErrorJson {
  message: string;
  extensions?: { code?: string; limit?: string; http?: unknown };
}
interface GraphQLBody {
  data?: Record<string, unknown> | null;
  errors?: GraphQLErrorJson[];
}

async function post(
  query: string,
  variables?: Record<string, unknown>,
  server = yoga,
  accept?: string,
): Promise<{ status: number; body: GraphQLBody }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (accept) headers['accept'] = accept;
  const res = await server.fetch('http://localhost/graphql', {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as GraphQLBody };
}

function limitErrors(body: GraphQLBody, limit: string): GraphQLErrorJson[] {
  return (body.errors ?? []).filter((e) => e.extensions?.limit === limit);
}

/** `{ node { child { child { ... id } } } }` with `depth` fields on the longest path. */
function nodeChain(depth: number): string {
  let inner = 'id';
  for (let i = 2; i < depth; i += 1) inner = `child { ${inner} }`;
  return `{ node { ${inner} } }`;
}

/** Validates with only the limit rules (no graphql built-ins) and returns the messages. */
function limitMessages(source: string, limits: Partial<OperationLimits> = {}, model: CostModel = {}): string[] {
  const rules = operationLimitRules({ ...defaultOperationLimits, ...limits }, costs, model);
  return validate(schema, parse(source), rules).map((e) => e.message);
}

beforeEach(() => {
  calls.recall = 0;
  calls.memories = 0;
  calls.node = 0;
  calls.remember = 0;
});

describe('operation limits over HTTP', () => {
  it('lets an ordinary recall query through and executes it', async () => {
    const { status, body } = await post(
      `query ($cue: String!) {
        recall(cue: $cue, options: { maxResults: 10 }) { memories { score memory { id content } } }
      }`,
      { cue: 'coffee' },
    );
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({
      recall: { memories: [{ score: 0.9, memory: { id: 'm1', content: 'coffee' } }] },
    });
    expect(calls.recall).toBe(1);
  });

  it('lets a query at exactly the depth limit through', async () => {
    const { status, body } = await post(nodeChain(defaultOperationLimits.maxDepth));
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(calls.node).toBe(1);
  });

  it('rejects a query deeper than the limit with a 400 and executes nothing', async () => {
    const { status, body } = await post(nodeChain(15));
    expect(status).toBe(400);
    expect(body.data).toBeUndefined();
    expect(body.errors).toHaveLength(1);
    expect(body.errors?.[0]?.message).toBe('Query depth 15 exceeds the limit of 12.');
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.extensions?.limit).toBe('depth');
    expect(calls.node).toBe(0);
  });

  it('answers 400 for a limit violation whichever response media type the client accepts', async () => {
    for (const accept of ['application/json', 'application/graphql-response+json']) {
      const { status } = await post(nodeChain(15), undefined, yoga, accept);
      expect(status).toBe(400);
    }
    expect(calls.node).toBe(0);
  });

  it('rejects 5000 aliased recall fields in one request without calling the resolver', async () => {
    const fields = Array.from({ length: 5000 }, (_, i) => `r${i}: recall(cue: "x") { memories { score } }`);
    const query = `{ ${fields.join(' ')} }`;

    // With the defaults the document is too long (about 45000 tokens) to be parsed at all.
    const byTokens = await post(query);
    expect(byTokens.status).toBe(400);
    expect(byTokens.body.data).toBeUndefined();
    expect(byTokens.body.errors?.map((e) => e.extensions?.limit)).toEqual(['tokens']);

    // Without a token limit, the alias and cost limits each reject it once, not once per field.
    const { status, body } = await post(query, undefined, makeYoga({ ...defaultOperationLimits, maxTokens: Infinity }));
    expect(status).toBe(400);
    expect(body.data).toBeUndefined();
    expect(body.errors?.map((e) => e.message)).toEqual([
      'Query uses 5000 aliases, exceeding the limit of 30.',
      // 5000 * (recall 50 + memories (1 + 10 * score 1)) = 305000
      'Query estimated cost 305000 exceeds the limit of 5000.',
    ]);
    expect(body.errors?.every((e) => e.extensions?.code === 'BAD_USER_INPUT')).toBe(true);
    expect(calls.recall).toBe(0);
  });

  it('rejects a query whose estimated cost exceeds the limit', async () => {
    // recall 50 + memories (1 + 2000 * (score 1 + memory 1 + id 1)) = 6051
    const { status, body } = await post(
      '{ recall(cue: "x", options: { maxResults: 2000 }) { memories { score memory { id } } } }',
    );
    expect(status).toBe(400);
    expect(body.errors?.map((e) => e.message)).toEqual(['Query estimated cost 6051 exceeds the limit of 5000.']);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(calls.recall).toBe(0);
  });

  it('rejects a mutation with too many aliases without calling the mutation resolver', async () => {
    const fields = Array.from({ length: 31 }, (_, i) => `m${i}: remember(content: "c${i}") { id }`);
    const { status, body } = await post(`mutation { ${fields.join(' ')} }`);
    expect(status).toBe(400);
    expect(body.errors?.map((e) => e.message)).toEqual(['Mutation uses 31 aliases, exceeding the limit of 30.']);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(calls.remember).toBe(0);
  });

  it('lets a mutation with a few aliases through', async () => {
    const { status, body } = await post('mutation { a: remember(content: "a") { id } b: remember(content: "b") { id } }');
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(calls.remember).toBe(2);
  });

  it('rejects a query with too many directives', async () => {
    const fields = Array.from({ length: 21 }, () => 'id @include(if: true)').join(' ');
    const { status, body } = await post(`{ node { ${fields} } }`);
    expect(status).toBe(400);
    expect(limitErrors(body, 'directives').map((e) => e.message)).toEqual([
      'Query uses 21 directives, exceeding the limit of 20.',
    ]);
    expect(calls.node).toBe(0);
  });

  it('rejects a document with more tokens than the limit before validating it', async () => {
    const { status, body } = await post(`{ node { ${'id '.repeat(20_000)} } }`);
    expect(status).toBe(400);
    expect(body.errors).toHaveLength(1);
    expect(body.errors?.[0]?.message).toBe('Query document exceeds the limit of 10000 tokens.');
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.extensions?.limit).toBe('tokens');
    expect(calls.node).toBe(0);
  });

  it('keeps rejecting an over-long document when it is repeated and served from the parse cache', async () => {
    const query = `{ node { ${'id '.repeat(20_000)} } }`;
    await post(query);
    const { status, body } = await post(query);
    expect(status).toBe(400);
    expect(body.errors?.[0]?.extensions?.limit).toBe('tokens');
  });

  it('still reports ordinary syntax errors as graphql reports them', async () => {
    const { body } = await post('{ node { id }');
    expect(body.errors?.[0]?.message).toMatch(/^Syntax Error/);
    expect(body.errors?.[0]?.extensions?.limit).toBeUndefined();
  });

  it('counts depth through named and inline fragments', async () => {
    const deep = `
      { node { ...Two } }
      fragment Two on Node { child { ... on Node { child { ...Deeper } } } }
      fragment Deeper on Node { child { child { child { child { child { child { child { child { child { id } } } } } } } } } }
    `;
    const { status, body } = await post(deep);
    expect(status).toBe(400);
    expect(body.errors?.map((e) => e.message)).toEqual(['Query depth 13 exceeds the limit of 12.']);
    expect(calls.node).toBe(0);

    const shallow = await post('{ node { ...F } } fragment F on Node { child { ... on Node { id } } }');
    expect(shallow.status).toBe(200);
    expect(shallow.body.data).toEqual({ node: { child: { id: "n0'" } } });
  });

  it('counts aliases through a fragment once for every place it is spread', async () => {
    const { status, body } = await post(`
      { a: node { ...Ten } b: node { ...Ten } c: node { ...Ten } d: node { ...Ten } }
      fragment Ten on Node { i0: id i1: id i2: id i3: id i4: id i5: id i6: id i7: id i8: id i9: id }
    `);
    expect(status).toBe(400);
    expect(limitErrors(body, 'aliases').map((e) => e.message)).toEqual([
      'Query uses 44 aliases, exceeding the limit of 30.',
    ]);
    expect(calls.node).toBe(0);
  });

  it('rejects fragment cycles without hanging', async () => {
    const { body } = await post(`
      { node { ...A } }
      fragment A on Node { child { ...B } }
      fragment B on Node { child { ...A } }
    `);
    expect(body.data).toBeUndefined();
    expect(body.errors?.some((e) => /Cannot spread fragment "A" within itself/.test(e.message))).toBe(true);
    expect(calls.node).toBe(0);
  });

  it('lets graphql\'s standard introspection query through with the default limits', async () => {
    for (const query of [
      getIntrospectionQuery(),
      getIntrospectionQuery({
        descriptions: true,
        specifiedByUrl: true,
        directiveIsRepeatable: true,
        schemaDescription: true,
        inputValueDeprecation: true,
        oneOf: true,
      }),
    ]) {
      const { status, body } = await post(query);
      expect(status).toBe(200);
      expect(body.errors).toBeUndefined();
      expect(body.data?.['__schema']).toBeDefined();
    }
  });

  it('still bounds the depth of a recursive introspection query', async () => {
    let inner = 'name';
    for (let i = 0; i < 6; i += 1) inner = `fields { type { ${inner} } }`;
    const { status, body } = await post(`{ __schema { types { ${inner} } } }`);
    expect(status).toBe(400);
    expect(limitErrors(body, 'depth')).toHaveLength(1);
  });
});

describe('operationLimitRules', () => {
  it('estimates cost as own cost plus the list-size estimate times the children', () => {
    // recall 50 + memories (1 + 5 * (score 1 + memory (1 + id 1))) = 66
    expect(
      limitMessages('{ recall(cue: "x", options: { maxResults: 5 }) { memories { score memory { id } } } }', {
        maxCost: 1,
      }),
    ).toEqual(['Query estimated cost 66 exceeds the limit of 1.']);
  });

  it('uses a literal first argument on a list field as its size', () => {
    // memories 1 + 7 * (id 1 + content 1) = 15
    expect(limitMessages('{ memories(first: 7) { id content } }', { maxCost: 1 })).toEqual([
      'Query estimated cost 15 exceeds the limit of 1.',
    ]);
  });

  it('prices a list size given as a variable at its lower bound of one item during validation', () => {
    // memories 1 + 1 * (id 1 + content 1) = 3; the value is priced at execution.
    expect(limitMessages('query ($n: Int) { memories(first: $n) { id content } }', { maxCost: 1 })).toEqual([
      'Query estimated cost 3 exceeds the limit of 1.',
    ]);
  });

  it('assumes ten items for a list without a size argument or a default size', () => {
    // memories 1 + 10 * (id 1 + content 1) = 21
    expect(limitMessages('{ memories { id content } }', { maxCost: 1 })).toEqual(['Query estimated cost 21 exceeds the limit of 1.']);
  });

  it('prices an omitted page size at the default size configured for the field', () => {
    // memories 1 + 100 * id 1 = 101
    expect(limitMessages('{ memories { id } }', { maxCost: 1 }, { defaultListSizes: { 'Query.memories': 100 } })).toEqual([
      'Query estimated cost 101 exceeds the limit of 1.',
    ]);
  });

  it('charges each distinct word of a literal text argument', () => {
    // recall 50 + 3 distinct words * 10 + memories (1 + 10 * score 1) = 91
    const model: CostModel = { wordCosts: { 'Query.recall': { argument: 'cue', costPerWord: 10 } } };
    expect(limitMessages('{ recall(cue: "coffee with Ada, coffee") { memories { score } } }', { maxCost: 1 }, model)).toEqual([
      'Query estimated cost 91 exceeds the limit of 1.',
    ]);
  });

  it('counts no words when the priced text path is absent from the argument', () => {
    const model: CostModel = { wordCosts: { 'Query.recall': { argument: 'options.text', costPerWord: 10 } } };
    // recall 50 + memories (1 + 1 * score 1) = 52
    expect(limitMessages('{ recall(cue: "x", options: { maxResults: 1 }) { memories { score } } }', { maxCost: 1 }, model)).toEqual([
      'Query estimated cost 52 exceeds the limit of 1.',
    ]);
  });

  it('counts words with the tokenizer it is given', () => {
    const model: CostModel = { wordCosts: { 'Query.recall': { argument: 'cue', costPerWord: 10 } }, countWords: (text) => text.length };
    // recall 50 + 4 characters * 10 + memories (1 + 10 * score 1) = 101
    expect(limitMessages('{ recall(cue: "abcd") { memories { score } } }', { maxCost: 1 }, model)).toEqual(['Query estimated cost 101 exceeds the limit of 1.']);
  });

  it('charges the configured cost for mutations', () => {
    expect(limitMessages('mutation { remember(content: "x") { id } }', { maxCost: 1 })).toEqual([
      'Mutation estimated cost 11 exceeds the limit of 1.',
    ]);
  });

  it('does not charge introspection fields any cost', () => {
    expect(limitMessages('{ __typename __schema { types { name } } }', { maxCost: 0 })).toEqual([]);
  });

  it('terminates on fragment cycles even without graphql\'s NoFragmentCycles rule', () => {
    const messages = limitMessages(
      '{ node { ...A } } fragment A on Node { child { ...B } } fragment B on Node { child { ...A } }',
    );
    expect(messages).toEqual([]);
  });

  it('measures a fragment bomb without expanding it exponentially', () => {
    // Ten spreads per level over eight levels would expand to 10^8 aliased fields.
    const levels = 8;
    const fragments = Array.from({ length: levels }, (_, i) =>
      i === levels - 1
        ? `fragment F${i} on Node { a: id }`
        : `fragment F${i} on Node { ${Array.from({ length: 10 }, () => `...F${i + 1}`).join(' ')} }`,
    );
    const started = performance.now();
    const messages = limitMessages(`{ node { ...F0 } } ${fragments.join(' ')}`);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(messages).toContain('Query uses 10000000 aliases, exceeding the limit of 30.');
  });

  it('reports each exceeded limit once per operation', () => {
    const deep = nodeChain(14).slice(1, -1).trim(); // `node { child { ... } }`, 14 deep
    const messages = limitMessages(`{ a: ${deep} b: ${deep} c: ${deep} }`, { maxAliases: 1 });
    expect(messages).toEqual([
      'Query depth 14 exceeds the limit of 12.',
      'Query uses 3 aliases, exceeding the limit of 1.',
    ]);
  });

  it('checks every operation in the document separately', () => {
    const messages = limitMessages(`query Deep ${nodeChain(13)} query Shallow ${nodeChain(2)}`);
    expect(messages).toEqual(['Query depth 13 exceeds the limit of 12.']);
  });

  it('works alongside graphql\'s specified rules', () => {
    const rules = [...specifiedRules, ...operationLimitRules(defaultOperationLimits, costs)];
    expect(validate(schema, parse(getIntrospectionQuery()), rules)).toEqual([]);
  });

  it('refuses a limit that is not a non-negative integer', () => {
    expect(() => operationLimitRules({ ...defaultOperationLimits, maxDepth: Number.NaN })).toThrow(TypeError);
    expect(() => operationLimitRules(defaultOperationLimits, { 'Query.recall': -1 })).toThrow(TypeError);
    expect(() => operationLimitRules(defaultOperationLimits, {}, { wordCosts: { 'Query.recall': { argument: 'cue', costPerWord: -1 } } })).toThrow(TypeError);
    expect(() => operationLimitRules(defaultOperationLimits, {}, { defaultListSizes: { 'Query.memories': Number.NaN } })).toThrow(TypeError);
  });
});

describe('operation cost with variable values', () => {
  const pageQuery = 'query ($n: Int) { memories(first: $n) { id content } }';

  it('refuses a page size variable whose value exceeds the cost limit before any resolver runs', async () => {
    // memories 1 + 3000 * (id 1 + content 1) = 6001
    const { status, body } = await post(pageQuery, { n: 3000 });
    expect(status).toBe(400);
    expect(body.data).toBeUndefined();
    expect(body.errors?.map((e) => e.message)).toEqual(['Query estimated cost 6001 exceeds the limit of 5000.']);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.extensions?.limit).toBe('cost');
    expect(calls.memories).toBe(0);
  });

  it('answers the same document by its variable values each time although validation is cached', async () => {
    expect((await post(pageQuery, { n: 5 })).status).toBe(200);
    expect((await post(pageQuery, { n: 3000 })).status).toBe(400);
    expect((await post(pageQuery, { n: 5 })).status).toBe(200);
    expect(calls.memories).toBe(2);
  });

  it('prices a page size variable at the size of ten aliases together, as a literal would be', async () => {
    const aliases = Array.from({ length: 10 }, (_, i) => `a${i}: memories(first: $n) { id content }`).join(' ');
    const byVariable = await post(`query ($n: Int) { ${aliases} }`, { n: 1000 });
    const byLiteral = await post(`{ ${aliases.replaceAll('$n', '1000')} }`);
    expect(byVariable.status).toBe(400);
    expect(byVariable.body.errors?.[0]?.message).toBe(byLiteral.body.errors?.[0]?.message);
    expect(calls.memories).toBe(0);
  });

  it('prices a whole options object given as a variable by its maxResults', async () => {
    // recall 50 + memories (1 + 2000 * (score 1 + memory 1 + id 1)) = 6051
    const { status, body } = await post('query ($o: RecallOptions) { recall(cue: "x", options: $o) { memories { score memory { id } } } }', { o: { maxResults: 2000 } });
    expect(status).toBe(400);
    expect(body.errors?.map((e) => e.message)).toEqual(['Query estimated cost 6051 exceeds the limit of 5000.']);
    expect(calls.recall).toBe(0);
  });

  it('prices a variable inside an object literal argument', async () => {
    const { status, body } = await post('query ($m: Int) { recall(cue: "x", options: { maxResults: $m }) { memories { score memory { id } } } }', { m: 2000 });
    expect(status).toBe(400);
    expect(limitErrors(body, 'cost')).toHaveLength(1);
    expect(calls.recall).toBe(0);
  });

  it('uses a variable\'s default value when the request omits the variable', async () => {
    const query = 'query ($n: Int = 3000) { memories(first: $n) { id content } }';
    expect((await post(query)).status).toBe(400);
    expect((await post(query, { n: 2 })).status).toBe(200);
    expect(calls.memories).toBe(1);
  });

  it('prices an explicit null page size like an omitted one', async () => {
    const server = makeYoga(defaultOperationLimits, { defaultListSizes: { 'Query.memories': 3000 } });
    const { status } = await post('query ($n: Int = 2) { memories(first: $n) { id content } }', { n: null }, server);
    expect(status).toBe(400);
    expect(calls.memories).toBe(0);
  });

  it('charges the distinct words of a text cue given as a variable', async () => {
    const server = makeYoga(defaultOperationLimits, { wordCosts: { 'Query.recall': { argument: 'cue', costPerWord: 100 } } });
    const query = 'query ($cue: String!) { recall(cue: $cue) { memories { score } } }';
    const words = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    const refused = await post(query, { cue: words }, server);
    expect(refused.status).toBe(400);
    // recall 50 + 60 words * 100 + memories (1 + 10 * score 1) = 6061
    expect(refused.body.errors?.map((e) => e.message)).toEqual(['Query estimated cost 6061 exceeds the limit of 5000.']);
    // The same word sixty times is one distinct word.
    const repeated = await post(query, { cue: Array.from({ length: 60 }, () => 'word').join(' ') }, server);
    expect(repeated.status).toBe(200);
    expect(calls.recall).toBe(1);
  });
});

describe('document nesting', () => {
  const deepList = (levels: number) => `{ recall(cue: "x", options: { minScore: ${'['.repeat(levels)}${']'.repeat(levels)} }) { memories { score } } }`;

  it('refuses arguments nested 2000 deep with a 400 before graphql parses them', async () => {
    const { status, body } = await post(deepList(2000));
    expect(status).toBe(400);
    expect(body.errors?.map((e) => e.extensions?.limit)).toEqual(['nesting']);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(calls.recall).toBe(0);
  });

  it('refuses selections nested 2000 deep with the nesting limit rather than a stack overflow', async () => {
    const { status, body } = await post(`${'{ node '.repeat(2000)}${'}'.repeat(2000)}`);
    expect(status).toBe(400);
    expect(body.errors?.map((e) => e.extensions?.limit)).toEqual(['nesting']);
  });

  it('lets a document nested exactly to the limit reach the usual rules, and refuses one level more', async () => {
    // `{`, `(` and `{` come before the lists.
    const atLimit = await post(deepList(defaultOperationLimits.maxNesting - 3));
    expect(atLimit.body.errors?.some((e) => e.extensions?.limit === 'nesting')).toBe(false);
    const over = await post(deepList(defaultOperationLimits.maxNesting - 2));
    expect(over.body.errors?.map((e) => e.extensions?.limit)).toEqual(['nesting']);
  });

  it('turns a stack overflow in the parser into the nesting error on paths that skip onParams', () => {
    const { parse: parseWithLimits } = yoga.getEnveloped({});
    expect(() => parseWithLimits(`{ a(x: ${'['.repeat(50_000)}${']'.repeat(50_000)}) }`)).toThrow(/deeper than the limit of 64 levels/);
  });
});
