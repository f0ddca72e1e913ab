import { beforeEach, describe, expect, it, vi } from 'vitest';
import { getIntrospectionQuery, parse, specifiedRules, validate } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import {
  defaultOperationLimits,
  operationLimitRules,
  useOperationLimits,
} from '../../src/server/operationLimits.js';
import type { OperationLimits } from '../../src/server/operationLimits.js';

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

function makeYoga(limits: OperationLimits = defaultOperationLimits) {
  return createYoga({ schema, logging: false, plugins: [useOperationLimits(limits, costs)] });
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
function limitMessages(source: string, limits: Partial<OperationLimits> = {}): string[] {
  const rules = operationLimitRules({ ...defaultOperationLimits, ...limits }, costs);
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

  it('assumes ten items for a list whose size is a variable', () => {
    // memories 1 + 10 * (id 1 + content 1) = 21
    expect(limitMessages('query ($n: Int) { memories(first: $n) { id content } }', { maxCost: 1 })).toEqual([
      'Query estimated cost 21 exceeds the limit of 1.',
    ]);
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
  });
});
