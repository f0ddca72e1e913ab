// A small typed Engram client: documents written with the generated graphql() carry their
// result and variable types, so a schema change that breaks them fails `npm run typecheck`.
// Run: npx tsx examples/client.ts http://127.0.0.1:4000/graphql

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { graphql } from './generated/gql.js';
import type { CueInput, MemoryInput, RecallOptions, WriteOptions } from './generated/graphql.js';

export const CreateSpaceDocument = graphql(`
  mutation CreateSpace($id: ID!, $dimension: Int, $shards: Int) {
    createSpace(id: $id, dimension: $dimension, shards: $shards) {
      id
      dimension
      shards
      memoryCount
      createdAt
    }
  }
`);

export const RememberDocument = graphql(`
  mutation Remember($space: ID, $memory: MemoryInput!, $options: WriteOptions) {
    remember(space: $space, memory: $memory, options: $options) {
      id
      changed
      memory {
        id
        content
        confidence
        tags
        createdAt
      }
    }
  }
`);

export const RecallDocument = graphql(`
  query Recall($space: ID, $cue: CueInput!, $options: RecallOptions) {
    recall(space: $space, cue: $cue, options: $options) {
      memories {
        memory {
          id
          content
        }
        score
        confidence {
          point
          lower
          upper
        }
      }
      confidence {
        point
        lower
        upper
      }
      partial
      metadata {
        mode
        activated
        candidates
        elapsedMs
      }
    }
  }
`);

export class GraphqlRequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly errors: readonly { message: string; extensions?: Record<string, unknown> }[] = [],
  ) {
    super(message);
    this.name = 'GraphqlRequestError';
  }
}

/** Sends one operation over HTTP POST; resolves with its data or throws on any error. */
export async function execute<TResult, TVariables>(url: string, document: TypedDocumentNode<TResult, TVariables>, variables: TVariables): Promise<TResult> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const text = await response.text();
  let body: { data?: TResult | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new GraphqlRequestError(`non-JSON response (${response.status}): ${text.slice(0, 200)}`, response.status);
  }
  if (body.errors !== undefined && body.errors.length > 0) {
    throw new GraphqlRequestError(body.errors.map((e) => e.message).join('; '), response.status, body.errors);
  }
  if (!response.ok || body.data == null) throw new GraphqlRequestError(`request failed with status ${response.status}`, response.status);
  return body.data;
}

/** A mutation field is null only when it failed, and then `execute` has already thrown. */
function committed<T>(value: T | null | undefined, field: string): T {
  if (value == null) throw new GraphqlRequestError(`${field} returned no result`, 200);
  return value;
}

export async function createSpace(url: string, id: string, dimension: number, shards?: number) {
  const data = await execute(url, CreateSpaceDocument, { id, dimension, shards });
  return committed(data.createSpace, 'createSpace');
}

export async function remember(url: string, space: string, memory: MemoryInput, options?: WriteOptions) {
  const data = await execute(url, RememberDocument, { space, memory, options });
  return committed(data.remember, 'remember');
}

export async function recall(url: string, space: string, cue: CueInput, options?: RecallOptions) {
  const data = await execute(url, RecallDocument, { space, cue, options });
  return data.recall;
}

export const EXAMPLE_SPACE = 'example';

// Fixed ids make reruns update the same memories instead of adding copies.
export const EXAMPLE_MEMORIES: MemoryInput[] = [
  { id: 'espresso', content: 'The espresso machine is on the third floor', embedding: [1, 0, 0, 0], tags: ['office'], confidence: 0.9 },
  { id: 'standup', content: 'Standup moves to 9:30 on Tuesdays', embedding: [0, 1, 0, 0], tags: ['meetings'], confidence: 0.8 },
  { id: 'freeze', content: 'Deploys freeze on Friday afternoons', embedding: [0, 0, 1, 0], tags: ['release'], confidence: 0.7 },
];

/** Creates a space, stores a few memories, then recalls by embedding and by text. */
export async function main(url: string, log: (line: string) => void = console.log) {
  const space = await createSpace(url, EXAMPLE_SPACE, 4);
  log(`space ${space.id}: dimension ${space.dimension}, ${space.shards} shard(s), created ${space.createdAt}`);

  const remembered = [];
  for (const memory of EXAMPLE_MEMORIES) {
    const result = await remember(url, space.id, memory);
    remembered.push(result);
    log(`remembered ${result.id}${result.changed ? '' : ' (unchanged)'}: ${result.memory.content ?? ''}`);
  }

  const byEmbedding = await recall(url, space.id, { embedding: [0.9, 0.1, 0, 0] }, { maxResults: 2 });
  log(`recall by embedding (${byEmbedding.metadata.mode}, ${byEmbedding.metadata.elapsedMs.toFixed(1)} ms):`);
  for (const hit of byEmbedding.memories) log(formatHit(hit));

  const byText = await recall(url, space.id, { text: 'standup' }, { maxResults: 2 });
  log(`recall by text (${byText.metadata.mode}, ${byText.metadata.elapsedMs.toFixed(1)} ms):`);
  for (const hit of byText.memories) log(formatHit(hit));

  return { space, remembered, byEmbedding, byText };
}

type RecalledHit = Awaited<ReturnType<typeof recall>>['memories'][number];

function formatHit(hit: RecalledHit): string {
  const { point, lower, upper } = hit.confidence;
  return `  ${hit.score.toFixed(3)}  ${hit.memory.id}  "${hit.memory.content ?? ''}"  confidence ${point.toFixed(2)} [${lower.toFixed(2)}, ${upper.toFixed(2)}]`;
}

// Run main only when executed directly, not when imported by a test.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv[2] ?? 'http://127.0.0.1:4000/graphql').catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
