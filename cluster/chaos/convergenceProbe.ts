// Whether a healed cluster has converged, judged from outside through GraphQL and the
// metrics endpoint, the only views a real process offers while it runs:
//
//   - every node reads every touched memory the same: content, version, and concurrent
//     versions (a read goes to the shard's primary, so this says the primaries agree and
//     every node routes to them);
//   - every shard has one primary that every node names, under one epoch, not degraded,
//     with every other configured copy acknowledged up to the primary's last sequence;
//   - no node holds cut-off writes waiting to be merged back (its hand-back gauge is 0);
//   - when the schema reports digests, every replica's anti-entropy root at its last
//     exchange equals its primary's. This last part waits for an exchange after the last
//     change, so a probe says apart "everything but the digests" (digestsPending).
//
// The copies themselves are compared after the nodes stop (storeCopies.ts); this probe
// only says when to stop waiting, and the first moment it holds is the run's convergence.

import type { VectorClock } from '../check/history.js';
import { batchReadQuery, replicationQuery, type MemoryView, type SchemaFeatures, type ShardReplicationView } from './chaosQueries.js';
import { callGraphql, callGraphqlPartial } from './graphqlClient.js';

/** Ids read per request: the server allows 30 aliased fields in one operation. */
export const IDS_PER_REQUEST = 25;
/** Timeout of one probe request; a healthy node answers in milliseconds, a loaded one in well under a second. */
export const PROBE_REQUEST_TIMEOUT_MS = 5000;
const HAND_BACK_GAUGE = /^engram_replication_handback_pending(?:\{[^}]*\})?\s+([0-9.eE+-]+)$/m;

export interface ProbeNode {
  id: string;
  url: string | undefined;
}

export interface ProbeSpec {
  space: string;
  shards: number;
  /** Configured copies of each shard: min(replication factor, nodes). */
  copies: number;
  ids: readonly string[];
  features: SchemaFeatures;
}

export interface Agreement {
  agreed: boolean;
  /** Why not, for the report when the deadline passes. */
  reason: string;
  /** Everything holds but the digests: the copies agree as far as reads and logs show, and anti-entropy has not confirmed it yet. */
  digestsPending?: boolean;
}

export type ReadOutcome = { ok: true; memory: MemoryView | null } | { ok: false; error: string };

/** Reads `ids` through one node, IDS_PER_REQUEST at a time; each id has its own outcome. */
export async function readThrough(url: string, space: string, ids: readonly string[], features: SchemaFeatures, timeoutMs = PROBE_REQUEST_TIMEOUT_MS): Promise<Map<string, ReadOutcome>> {
  const out = new Map<string, ReadOutcome>();
  for (let from = 0; from < ids.length; from += IDS_PER_REQUEST) {
    const chunk = ids.slice(from, from + IDS_PER_REQUEST);
    const variables: Record<string, unknown> = { space };
    chunk.forEach((id, i) => (variables[`id${i}`] = id));
    const answer = await callGraphqlPartial<Record<string, MemoryView | null>>(url, batchReadQuery(features, chunk.length), variables, timeoutMs);
    chunk.forEach((id, i) => {
      const alias = `m${i}`;
      if ('kind' in answer) out.set(id, { ok: false, error: answer.message });
      else if (answer.fieldErrors.has(alias)) out.set(id, { ok: false, error: answer.fieldErrors.get(alias)! });
      else if (answer.data === null || !(alias in answer.data)) out.set(id, { ok: false, error: answer.errors.join('; ') || 'no data' });
      else out.set(id, { ok: true, memory: answer.data[alias] ?? null });
    });
  }
  return out;
}

export async function probeAgreement(nodes: readonly ProbeNode[], spec: ProbeSpec): Promise<Agreement> {
  const down = nodes.find((node) => node.url === undefined);
  if (down !== undefined) return disagree(`${down.id} is not up`);
  const reads = await readsAgree(nodes, spec);
  if (!reads.agreed) return reads;
  const { agreement, statuses } = await replicationAgrees(nodes, spec);
  if (!agreement.agreed) return agreement;
  const handBacks = await handBacksDone(nodes);
  if (!handBacks.agreed || !spec.features.replicationDigest) return handBacks;
  const digests = digestsAgree(statuses);
  return digests.agreed ? digests : { ...digests, digestsPending: true };
}

async function readsAgree(nodes: readonly ProbeNode[], spec: ProbeSpec): Promise<Agreement> {
  if (spec.ids.length === 0) return { agreed: true, reason: '' };
  const seen = new Map<string, { node: string; fingerprint: string }>();
  for (const node of nodes) {
    const reads = await readThrough(node.url!, spec.space, spec.ids, spec.features);
    for (const [id, read] of reads) {
      if (!read.ok) return disagree(`${node.id} could not read ${id}: ${read.error}`);
      const fingerprint = memoryFingerprint(read.memory);
      const first = seen.get(id);
      if (first === undefined) seen.set(id, { node: node.id, fingerprint });
      else if (first.fingerprint !== fingerprint) return disagree(`${id} reads ${first.fingerprint} through ${first.node} and ${fingerprint} through ${node.id}`);
    }
  }
  return { agreed: true, reason: '' };
}

/** Every node's view of every shard's replication; the statuses are those the last node reported. */
async function replicationAgrees(nodes: readonly ProbeNode[], spec: ProbeSpec): Promise<{ agreement: Agreement; statuses: ShardReplicationView[] }> {
  const primaries = new Map<number, string>();
  const statuses: ShardReplicationView[] = [];
  for (const node of nodes) {
    const answer = await callGraphql<{ spaces: { id: string; replication: ShardReplicationView[] }[] }>(node.url!, replicationQuery(spec.features), {}, PROBE_REQUEST_TIMEOUT_MS);
    if (answer.kind !== 'ok') return { agreement: disagree(`${node.id} did not report replication: ${answer.kind === 'error' ? `${answer.code} ${answer.message}` : answer.message}`), statuses };
    const shards = answer.data.spaces.find((space) => space.id === spec.space)?.replication ?? [];
    statuses.length = 0;
    for (let shard = 0; shard < spec.shards; shard++) {
      const status = shards.find((entry) => entry.shard === shard);
      const verdict = shardSettled(node.id, shard, status, spec);
      if (!verdict.agreed) return { agreement: verdict, statuses };
      statuses.push(status!);
      const named = `${status!.primary}@${status!.epoch}:${status!.epochNode ?? ''}`;
      const earlier = primaries.get(shard);
      if (earlier === undefined) primaries.set(shard, named);
      else if (earlier !== named) return { agreement: disagree(`shard ${shard}: primary ${earlier} on one node, ${named} through ${node.id}`), statuses };
    }
  }
  return { agreement: { agreed: true, reason: '' }, statuses };
}

/** Every replica's anti-entropy root, as of its last exchange, equals its primary's. */
function digestsAgree(statuses: readonly ShardReplicationView[]): Agreement {
  for (const status of statuses) {
    for (const replica of status.replicas) {
      if (replica.digest !== status.digest) return disagree(`shard ${status.shard}: ${replica.node}'s digest differs from the primary's`);
    }
  }
  return { agreed: true, reason: '' };
}

function shardSettled(node: string, shard: number, status: ShardReplicationView | undefined, spec: ProbeSpec): Agreement {
  if (status === undefined || status.primary === null) return disagree(`shard ${shard} has no primary as ${node} sees it`);
  if (status.degraded) return disagree(`shard ${shard}: primary ${status.primary} is degraded`);
  if (status.replicas.length !== spec.copies - 1) return disagree(`shard ${shard}: ${status.replicas.length + 1} of ${spec.copies} copies reported`);
  for (const replica of status.replicas) {
    if (replica.ackedSeq !== status.lastSeq || (replica.lagEntries ?? 1) !== 0) return disagree(`shard ${shard}: ${replica.node} acknowledged ${replica.ackedSeq} of ${status.lastSeq}`);
  }
  return { agreed: true, reason: '' };
}

async function handBacksDone(nodes: readonly ProbeNode[]): Promise<Agreement> {
  for (const node of nodes) {
    const pending = await handBacksPending(node.url!);
    if (pending === null) return disagree(`${node.id} did not answer /metrics`);
    if (pending > 0) return disagree(`${node.id} has ${pending} cut-off writes waiting to be merged back`);
  }
  return { agreed: true, reason: '' };
}

/** The node's hand-back gauge; 0 when the node does not export it, null when /metrics did not answer. */
export async function handBacksPending(graphqlUrl: string): Promise<number | null> {
  try {
    const response = await fetch(graphqlUrl.replace(/\/graphql$/, '/metrics'), { signal: AbortSignal.timeout(PROBE_REQUEST_TIMEOUT_MS) });
    if (!response.ok) return null;
    const match = HAND_BACK_GAUGE.exec(await response.text());
    return match === null ? 0 : Number(match[1]);
  } catch {
    return null;
  }
}

/** Content, version and concurrent versions in a canonical form, so equal reads compare equal. */
export function memoryFingerprint(memory: MemoryView | null): string {
  if (memory === null) return 'absent';
  const siblings = (memory.conflicts ?? []).map((sibling) => `${sibling.content}@${canonicalClock(sibling.version)}`).sort();
  return `${memory.content}@${canonicalClock(memory.version)}${siblings.length > 0 ? `+[${siblings.join(',')}]` : ''}`;
}

function canonicalClock(clock: VectorClock): string {
  return JSON.stringify(Object.entries(clock).filter(([, count]) => count !== 0).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function disagree(reason: string): Agreement {
  return { agreed: false, reason };
}

/** Lines of /metrics kept per node for a report: anti-entropy and replication gauges and counters. */
const DIAGNOSTIC_METRICS = /^engram_(antientropy|replication)_[a-z_]+(\{[^}]*\})? /;
/** Metric lines kept per node, so a report stays readable. */
const MAX_DIAGNOSTIC_LINES = 60;

export interface Diagnostics {
  /** node -> every shard's replication status as that node reported it. */
  replication: Record<string, ShardReplicationView[] | string>;
  /** node -> its anti-entropy and replication metric lines. */
  metrics: Record<string, string[]>;
}

/** What each node says about replication and anti-entropy, gathered when the copies did not agree in time. */
export async function gatherDiagnostics(nodes: readonly ProbeNode[], spec: Pick<ProbeSpec, 'space' | 'features'>): Promise<Diagnostics> {
  const diagnostics: Diagnostics = { replication: {}, metrics: {} };
  for (const node of nodes) {
    if (node.url === undefined) continue;
    const answer = await callGraphql<{ spaces: { id: string; replication: ShardReplicationView[] }[] }>(node.url, replicationQuery(spec.features), {}, PROBE_REQUEST_TIMEOUT_MS);
    diagnostics.replication[node.id] = answer.kind === 'ok' ? (answer.data.spaces.find((space) => space.id === spec.space)?.replication ?? []) : answer.kind;
    try {
      const response = await fetch(node.url.replace(/\/graphql$/, '/metrics'), { signal: AbortSignal.timeout(PROBE_REQUEST_TIMEOUT_MS) });
      const lines = (await response.text()).split('\n').filter((line) => DIAGNOSTIC_METRICS.test(line) && (line.includes(`space="${spec.space}"`) || !line.includes('space=')));
      diagnostics.metrics[node.id] = lines.slice(0, MAX_DIAGNOSTIC_LINES);
    } catch {
      diagnostics.metrics[node.id] = [];
    }
  }
  return diagnostics;
}
