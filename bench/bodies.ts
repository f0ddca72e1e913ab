// GraphQL request bodies generated per request from a template, and response checking.
// Shared by the benchmark's load generator and load/run.ts; load/k6-*.js mirror the same
// `$gen` hints in plain k6 JavaScript.
//
// A template is any JSON value; an object with a `$gen` key is replaced per request:
//   { "$gen": "vector", "dimension": 768 }                        random unit vector (gaussian)
//   { "$gen": "vector", "dimension": 768, "clusters": 200, "seed": 42, "spread": 1 }
//                                                                  unit vector around the seeded
//                                                                  centres of test/support/clusteredVectors.ts
//   { "$gen": "poolVector" }                                        next vector of a supplied pool
//                                                                  (the benchmark's query set); its index
//                                                                  is remembered so answers can be scored
//   { "$gen": "text", "prefix": "load memory" }                    "<prefix> #<seq> <salt>-<random>", distinct per request
//   { "$gen": "uuid" }                                              crypto.randomUUID()

import { randomUUID } from 'node:crypto';
import { clusterCentres, gaussian, mulberry32 } from '../test/support/clusteredVectors.js';

export interface BodySpec {
  query: string;
  operationName?: string;
  /** Template for `variables`. */
  variables?: unknown;
}

export interface BodyEnvironment {
  /** Packed pool for `poolVector`, pool.length = n * poolDimension. */
  pool?: Float32Array;
  poolDimension?: number;
  /** Distinguishes generators in different threads; also seeds their PRNG. */
  salt: number;
}

export interface GeneratedBody {
  body: string;
  /** Index of the pool vector used, when the template has a `poolVector`. */
  poolIndex: number | undefined;
}

type GenHint = { $gen: string; [key: string]: unknown };

function isHint(value: unknown): value is GenHint {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { $gen?: unknown }).$gen === 'string';
}

/** Five significant decimals: plenty for cosine ranking, and keeps a 768-d body near 7 KiB. */
function vectorJson(values: ArrayLike<number>): string {
  let out = '[';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    out += String(Math.round(values[i]! * 1e5) / 1e5);
  }
  return `${out}]`;
}

/** Compiles a template into a generator of request bodies. `seq` numbers requests from 0. */
export function compileBody(spec: BodySpec, env: BodyEnvironment): (seq: number) => GeneratedBody {
  const uniform = mulberry32(0x9e3779b9 ^ env.salt);
  const normal = gaussian(uniform);
  const centresCache = new Map<string, Float32Array>();
  let poolIndex: number | undefined;

  const vector = (hint: GenHint): string => {
    const dimension = Number(hint.dimension);
    if (!Number.isSafeInteger(dimension) || dimension <= 0) throw new RangeError(`vector hint needs a positive dimension, got ${String(hint.dimension)}`);
    const out = new Float64Array(dimension);
    const clusters = hint.clusters === undefined ? 0 : Number(hint.clusters);
    if (clusters > 0) {
      const seed = Number(hint.seed ?? 0);
      const key = `${dimension}/${clusters}/${seed}`;
      let centres = centresCache.get(key);
      if (centres === undefined) centresCache.set(key, (centres = clusterCentres({ dimension, clusters, seed })));
      const c = Math.min(clusters - 1, Math.floor(uniform() * clusters)) * dimension;
      const sigma = Number(hint.spread ?? 1) / Math.sqrt(dimension);
      for (let j = 0; j < dimension; j++) out[j] = centres[c + j]! + normal() * sigma;
    } else {
      for (let j = 0; j < dimension; j++) out[j] = normal();
    }
    let sum = 0;
    for (let j = 0; j < dimension; j++) sum += out[j]! * out[j]!;
    const inv = 1 / Math.sqrt(sum || 1);
    for (let j = 0; j < dimension; j++) out[j] *= inv;
    // `encoding: 'base64'`: the embeddingBase64 form (little-endian float32) instead of a list.
    if (hint.encoding === 'base64') return JSON.stringify(Buffer.from(Float32Array.from(out).buffer).toString('base64'));
    return vectorJson(out);
  };

  const render = (value: unknown, seq: number): string => {
    if (isHint(value)) {
      switch (value.$gen) {
        case 'vector':
          return vector(value);
        case 'poolVector': {
          const pool = env.pool;
          const dimension = env.poolDimension;
          if (pool === undefined || dimension === undefined || pool.length === 0) throw new Error('poolVector needs a vector pool');
          const size = pool.length / dimension;
          poolIndex = seq % size;
          return vectorJson(pool.subarray(poolIndex * dimension, (poolIndex + 1) * dimension));
        }
        case 'text':
          return JSON.stringify(`${String(value.prefix ?? 'bench memory')} #${seq} ${env.salt}-${Math.floor(uniform() * 1e9).toString(36)}`);
        case 'uuid':
          return JSON.stringify(randomUUID());
        default:
          throw new Error(`unknown $gen "${value.$gen}"`);
      }
    }
    if (Array.isArray(value)) return `[${value.map((v) => render(v, seq)).join(',')}]`;
    if (typeof value === 'object' && value !== null) {
      return `{${Object.entries(value)
        .map(([k, v]) => `${JSON.stringify(k)}:${render(v, seq)}`)
        .join(',')}}`;
    }
    return JSON.stringify(value ?? null);
  };

  const head = `{"query":${JSON.stringify(spec.query)}${spec.operationName === undefined ? '' : `,"operationName":${JSON.stringify(spec.operationName)}`},"variables":`;
  return (seq: number): GeneratedBody => {
    poolIndex = undefined;
    const variables = render(spec.variables ?? {}, seq);
    return { body: `${head}${variables}}`, poolIndex };
  };
}

export type ResponseVerdict = 'ok' | 'non2xx' | 'graphqlError' | 'badBody';

/** Outcome codes of a load run's samples (HttpLoadSamples.outcome): the verdicts, then failures without a response. */
export const SAMPLE_OUTCOMES = ['ok', 'non2xx', 'graphqlError', 'badBody', 'socketError', 'timeout'] as const;

export interface CheckedResponse {
  verdict: ResponseVerdict;
  /** First error message, for the report. */
  message?: string;
  /** `data.recall.memories[].memory.id`, when present. */
  recallIds?: string[];
}

/** Classifies one HTTP response: non-2xx, a GraphQL `errors` array, a body without `data`, or ok. */
export function checkResponse(status: number, body: string): CheckedResponse {
  let parsed: { data?: unknown; errors?: { message?: string }[] } | undefined;
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    parsed = undefined;
  }
  if (status < 200 || status >= 300) {
    return { verdict: 'non2xx', message: `HTTP ${status}: ${parsed?.errors?.[0]?.message ?? body.slice(0, 160)}` };
  }
  if (parsed === undefined || typeof parsed !== 'object') return { verdict: 'badBody', message: `unparseable body: ${body.slice(0, 160)}` };
  if (Array.isArray(parsed.errors) && parsed.errors.length > 0) {
    return { verdict: 'graphqlError', message: `GraphQL error: ${parsed.errors[0]?.message ?? '(no message)'}` };
  }
  if (parsed.data === null || parsed.data === undefined) return { verdict: 'badBody', message: `no data: ${body.slice(0, 160)}` };
  const recall = (parsed.data as { recall?: { memories?: { memory?: { id?: string } }[] } }).recall;
  if (recall?.memories !== undefined) {
    return { verdict: 'ok', recallIds: recall.memories.map((m) => m.memory?.id ?? '') };
  }
  return { verdict: 'ok' };
}
