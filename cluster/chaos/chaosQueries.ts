// The GraphQL documents a chaos run sends, built for the schema the nodes serve. Fields that
// are still being added (a memory's concurrent versions, `conflicts`; the anti-entropy
// digests of shard copies, `digest`) are asked for only when schema/*.graphql declares them,
// so the same command runs against a tree that has them and one that does not yet.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { VectorClock } from '../check/history.js';
import { repoRoot } from './engramProcess.js';

export interface SchemaFeatures {
  /** `Memory.conflicts`: concurrent versions not yet resolved. */
  conflicts: boolean;
  /** `MemoryVersion.writeId`: which write made a version, so a sibling names its write. */
  versionWriteId: boolean;
  /** `WriteOptions.requestId`: the client names its write, and the workload uses the token. */
  requestId: boolean;
  /** `ShardReplication.digest` and `ReplicaLag.digest`: each copy's anti-entropy root. */
  replicationDigest: boolean;
}

export interface MemoryVersionView {
  content: string | null;
  confidence: number;
  version: VectorClock;
  node: string | null;
  writeId?: string;
}

export interface MemoryView {
  id: string;
  content: string | null;
  version: VectorClock;
  conflicts?: MemoryVersionView[];
}

export interface ShardReplicationView {
  shard: number;
  primary: string | null;
  epoch: number;
  epochNode?: string | null;
  lastSeq: number;
  degraded: boolean;
  digest?: string | null;
  replicas: { node: string; ackedSeq: number | null; lagEntries: number | null; digest?: string | null }[];
}

export function schemaFeatures(schemaDir = join(repoRoot, 'schema')): SchemaFeatures {
  const sdl = readdirSync(schemaDir)
    .filter((name) => name.endsWith('.graphql'))
    .map((name) => readFileSync(join(schemaDir, name), 'utf8'))
    .join('\n');
  return {
    conflicts: typeHasField(sdl, 'Memory', 'conflicts'),
    versionWriteId: typeHasField(sdl, 'Memory', 'conflicts') && typeHasField(sdl, 'MemoryVersion', 'writeId'),
    requestId: typeHasField(sdl, 'WriteOptions', 'requestId'),
    replicationDigest: typeHasField(sdl, 'ShardReplication', 'digest') && typeHasField(sdl, 'ReplicaLag', 'digest'),
  };
}

/** Whether `type <name> { ... }` or `input <name> { ... }` (or an extension) declares `field`. Descriptions are skipped. */
export function typeHasField(sdl: string, typeName: string, field: string): boolean {
  const withoutDescriptions = sdl.replace(/"""[\s\S]*?"""/g, '').replace(/"(?:[^"\\\n]|\\.)*"/g, '');
  const opening = new RegExp(`(?:^|\\n)\\s*(?:extend\\s+)?(?:type|input)\\s+${typeName}\\b[^{]*\\{`, 'g');
  for (let match = opening.exec(withoutDescriptions); match !== null; match = opening.exec(withoutDescriptions)) {
    const body = withoutDescriptions.slice(match.index + match[0].length, withoutDescriptions.indexOf('}', match.index));
    if (new RegExp(`(?:^|[\\s,])${field}\\s*[:(]`).test(body)) return true;
  }
  return false;
}

export function memoryFields(features: SchemaFeatures): string {
  if (!features.conflicts) return 'id content version';
  return `id content version conflicts { content confidence version node${features.versionWriteId ? ' writeId' : ''} }`;
}

/** Variables: space, id, content, embedding, consistency, and requestId when the schema has it. */
export function rememberMutation(features: SchemaFeatures): string {
  const request = features.requestId ? ', $requestId: ID' : '';
  const option = features.requestId ? ', requestId: $requestId' : '';
  return `mutation Remember($space: ID!, $id: ID!, $content: String!, $embedding: [Float!]!, $consistency: WriteConsistency${request}) {
  remember(space: $space, memory: { id: $id, content: $content, embedding: $embedding }, options: { consistency: $consistency${option} }) { id memory { ${memoryFields(features)} } }
}`;
}

export function readQuery(features: SchemaFeatures): string {
  return `query Read($space: ID!, $id: ID!) { memory(space: $space, id: $id) { ${memoryFields(features)} } }`;
}

/** One request reading `count` ids, aliased m0..m<count-1>, variables id0..id<count-1>. */
export function batchReadQuery(features: SchemaFeatures, count: number): string {
  const variables = Array.from({ length: count }, (_, i) => `$id${i}: ID!`).join(', ');
  const fields = Array.from({ length: count }, (_, i) => `m${i}: memory(space: $space, id: $id${i}) { ${memoryFields(features)} }`).join('\n  ');
  return `query ReadMany($space: ID!${count > 0 ? `, ${variables}` : ''}) {\n  ${fields}\n}`;
}

export function replicationQuery(features: SchemaFeatures): string {
  // Near the server's cost limit of 5000 already (spaces and replicas are lists): add fields with care.
  const digest = features.replicationDigest ? ' digest' : '';
  return `{ spaces { id replication { shard primary epoch epochNode lastSeq degraded${digest} replicas { node ackedSeq lagEntries${digest} } } } }`;
}

export const MEMBERS_QUERY = '{ cluster { nodes { id state } } }';
