// Anti-entropy and conflict figures for `npm run bench:cluster`:
// - the bytes anti-entropy exchanges to repair a replica with 1% of a 100k-record shard
//   damaged (half deleted, half altered in its store), beside the bytes of a full transfer
//   of the shard (every record copy, as a snapshot install sends them), measured in the
//   same run. Two real engines on RocksDB and the real shells (AntiEntropyManager over the RPC
//   server) exchange over the simulator's network, so the run is fast and repeatable; the
//   records the primary restates reach the replica through its log, counted apart.
// - merge time per conflict: the join and view of two concurrent 768-dimension versions,
//   beside a JSON round trip of the same record.

import { AntiEntropyManager } from '../cluster/antientropy/antiEntropyManager.js';
import { defaultAntiEntropyShellSettings } from '../cluster/antientropy/shellSettings.js';
import type { HeldShard } from '../cluster/antientropy/directives.js';
import { mergeCopies } from '../cluster/conflict/memoryState.js';
import { EngineStorage } from '../cluster/replication/engineStorage.js';
import type { Epoch } from '../cluster/replication/epoch.js';
import { RpcServer } from '../cluster/routing/rpc.js';
import { nodeClock } from '../cluster/sim/simNode.js';
import { SimNetwork } from '../cluster/sim/simNetwork.js';
import { defaultConfig } from '../src/config.js';
import { Engine, type Logger } from '../src/engine/engine.js';
import { encodeEmbedding, encodeRecord } from '../src/engine/recordCodec.js';
import type { ShippedEntry } from '../src/engine/shardSync.js';
import type { MemoryRecord } from '../src/engine/types.js';
import { keys, prefixEnd } from '../src/storage/keys.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../src/storage/store.js';
import { row, target, type Section } from './report.js';

const SPACE = 'antientropy';
const CLUSTER = 'bench';
const EPOCH: Epoch = [1, 'p'];
/** Virtual time the exchange may take before the run counts as not converged. */
const CONVERGE_LIMIT_MS = 120_000;
const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {} };

export interface AntiEntropyBenchOptions {
  records: number;
  /** Share of the replica's records damaged. */
  damaged: number;
  dimension: number;
}

interface BenchNode {
  engine: Engine;
  storage: EngineStorage;
  store: Store;
  directory: string;
  antiEntropy: AntiEntropyManager;
}

function recordOf(i: number, dimension: number): { record: MemoryRecord; embedding: string } {
  const vector = Float32Array.from({ length: dimension }, (_, d) => Math.sin(i * 0.37 + d * 1.3));
  const record: MemoryRecord = {
    id: `m-${String(i).padStart(6, '0')}`,
    kind: 'MEMORY',
    content: `memory number ${i}, a sentence of ordinary length to stand for what users store`,
    confidence: 0.5 + (i % 50) / 100,
    activation: 1,
    activatedAt: 1000,
    decayRate: 0.1,
    createdAt: 1000 + i,
    updatedAt: 1000 + i,
    lastAccess: null,
    accessCount: 0,
    tags: ['bench'],
    metadata: null,
    suppressed: false,
    label: -1,
    hasEmbedding: true,
    version: { p: 1 },
    writeId: `w-${i}`,
    writer: 'p',
  };
  return { record, embedding: encodeEmbedding(vector).toString('base64') };
}

async function openNode(network: SimNetwork, id: string, held: () => HeldShard[]): Promise<BenchNode> {
  const clock = nodeClock(network, id);
  const directory = mkdtempSync(join(tmpdir(), `engram-bench-ae-${id}-`));
  const store = await Store.open(directory);
  let next = 0;
  const engine = await Engine.open({ store, nodeId: id, settings: defaultConfig.engine, limits: defaultConfig.limits, logger: quiet, index: 'exact', now: () => clock.nowMs(), elapsedNow: () => clock.nowMs(), scheduler: { every: (ms, work) => clock.every(ms, work) }, newId: () => `${id}-${++next}` });
  const storage = new EngineStorage(engine);
  await storage.open();
  const transport = network.transport(id);
  const rpc = new RpcServer(transport, CLUSTER, id, () => undefined);
  const antiEntropy = new AntiEntropyManager({
    nodeId: id,
    cluster: CLUSTER,
    transport,
    rpc,
    engine,
    replication: { heldShards: held },
    clock,
    logger: quiet,
    // The scrub runs once, by hand, before the exchange: only the exchange is measured.
    settings: { ...defaultAntiEntropyShellSettings, intervalMs: 1000, confirmAfterMs: 500, tickMs: 100, scrubIntervalMs: 3_600_000 },
  });
  rpc.start();
  return { engine, storage, store, directory, antiEntropy };
}

async function shipAll(from: BenchNode, to: BenchNode): Promise<number> {
  let bytes = 0;
  for (;;) {
    const start = to.engine.space(SPACE).shardSeqs[0]! + 1;
    const entries = await from.storage.readLog(SPACE, 0, start, 512, 4 << 20);
    if (entries === 'compacted' || entries.length === 0) return bytes;
    bytes += Buffer.byteLength(JSON.stringify(entries));
    await to.storage.apply(SPACE, 0, entries, EPOCH, [[EPOCH, 1]]);
  }
}

async function scrubAll(node: BenchNode): Promise<number> {
  let after: string | null = null;
  let damaged = 0;
  do {
    const outcome = await node.antiEntropy.repair.scrub(SPACE, 0, after);
    damaged += outcome.damaged;
    after = outcome.next;
  } while (after !== null);
  return damaged;
}

async function fullTransferBytes(node: BenchNode): Promise<number> {
  let bytes = 0;
  let after: string | null = null;
  do {
    const chunk = await node.storage.snapshotChunk(SPACE, 0, after, 1000, 4 << 20);
    bytes += Buffer.byteLength(JSON.stringify(chunk.records));
    after = chunk.next;
  } while (after !== null);
  return bytes;
}

/** Repairs a replica damaged behind the log and reports the bytes it took. */
export async function antiEntropyRepair(options: AntiEntropyBenchOptions): Promise<Section> {
  const started = performance.now();
  const network = new SimNetwork({ seed: 1, link: { latencyMs: 1, jitterMs: 0 } });
  const held = (role: 'primary' | 'replica'): HeldShard[] => [{ space: SPACE, shard: 0, epoch: EPOCH, role, replicas: role === 'primary' ? ['r'] : [], lagging: [], ready: true }];
  const primary = await openNode(network, 'p', () => held('primary'));
  const replica = await openNode(network, 'r', () => held('replica'));
  await primary.engine.createSpace(SPACE, options.dimension, 1);
  await replica.storage.ensureSpace(primary.engine.space(SPACE).definition);
  // Both copies get the same records through the log, as replication gives them.
  const batch: ShippedEntry[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    for (const node of [primary, replica]) await node.storage.apply(SPACE, 0, batch, EPOCH, [[EPOCH, 1]]);
    batch.length = 0;
  };
  for (let i = 0; i < options.records; i++) {
    const { record, embedding } = recordOf(i, options.dimension);
    batch.push({ seq: i + 2, type: 'STORE', timestampMs: 1000 + i, payload: { memory: record, embedding, links: [] } });
    if (batch.length >= 512) await flush();
  }
  await flush();
  const loadedMs = performance.now() - started;
  const full = await fullTransferBytes(primary);

  // Damage behind the log: delete or alter a share of the replica's records in its store.
  const prefix = keys.memories(SPACE);
  const ops = [];
  let n = 0;
  const every = Math.round(1 / options.damaged);
  for await (const { key, value } of replica.store.scan({ gte: prefix, lt: prefixEnd(prefix) })) {
    if (n++ % every !== 0) continue;
    const record = JSON.parse(value.toString()) as MemoryRecord;
    ops.push(n % 2 === 0 ? { type: 'del' as const, key } : { type: 'put' as const, key, value: encodeRecord({ ...record, content: 'altered behind the log' }) });
  }
  await replica.store.write(ops);
  const found = await scrubAll(replica);

  const repairStarted = performance.now();
  primary.antiEntropy.start();
  replica.antiEntropy.start();
  let logBytes = 0;
  let convergedAtMs: number | null = null;
  while (network.nowMs < CONVERGE_LIMIT_MS) {
    // RocksDB answers in real time while the network runs on virtual time: give it a moment
    // each step, so reads and repairs finish before virtual timeouts could fire.
    await network.runFor(20);
    await new Promise((resolve) => setTimeout(resolve, 5));
    logBytes += await shipAll(primary, replica);
    const [a, b] = await Promise.all([primary.antiEntropy.repair.tree(SPACE, 0), replica.antiEntropy.repair.tree(SPACE, 0)]);
    if (a.root() === b.root()) {
      convergedAtMs = network.nowMs;
      break;
    }
  }
  const counts = primary.antiEntropy.counts;
  const protocol = counts.bytesSent + counts.bytesReceived;
  const rounds = counts.rounds.matched + counts.rounds.differed + counts.rounds.raced + counts.rounds.failed;
  for (const node of [primary, replica]) {
    node.antiEntropy.stop();
    await node.engine.close();
    rmSync(node.directory, { recursive: true, force: true });
  }
  const share = protocol / full;
  return {
    key: 'antiEntropy',
    title: `Anti-entropy: repair ${ops.length} damaged records (${options.damaged * 100}%) of ${options.records.toLocaleString('en-US')} x ${options.dimension}`,
    rows: [
      row('protocol bytes (tree, leaves, copies)', protocol, 'B', { baseline: { label: 'full transfer of the shard', value: full, unit: 'B' }, target: target('< 1% of a full transfer', share < 0.01) }),
      row('repaired records through the log', logBytes, 'B', { baseline: { label: 'full transfer of the shard', value: full, unit: 'B' } }),
      row('rounds until the roots matched', rounds, '', { note: convergedAtMs === null ? 'did not converge' : `${(convergedAtMs / 1000).toFixed(1)} s virtual, ${counts.restated} restated` }),
      row('damaged records the scrub found', found, '', { note: `of ${ops.length}` }),
    ],
    details: { records: options.records, damaged: ops.length, found, protocolBytes: protocol, logBytes, fullTransferBytes: full, rounds, counts, convergedAtMs, loadMs: Math.round(loadedMs), repairWallMs: Math.round(performance.now() - repairStarted) },
  };
}

/** Merge time per conflict: join and view of two concurrent versions, beside a JSON round trip of one. */
export function mergeCost(dimension: number, iterations: number): Section {
  const a = recordOf(1, dimension);
  const b = recordOf(2, dimension);
  const left = { record: { ...a.record, id: 'm', version: { p: 2 }, writeId: 'a' }, embedding: a.embedding };
  const right = { record: { ...b.record, id: 'm', version: { p: 1, r: 1 }, writeId: 'b', writer: 'r' }, embedding: b.embedding };
  const time = (work: () => void) => {
    for (let i = 0; i < Math.min(200, iterations); i++) work();
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) work();
    return (performance.now() - t0) / iterations;
  };
  const merge = time(() => void mergeCopies('m', left, right, 0));
  const roundTrip = time(() => void JSON.parse(JSON.stringify(left)));
  return {
    key: 'conflictMerge',
    title: 'Conflict merge',
    rows: [row(`merge per conflict (${dimension} dims)`, merge, 'ms', { baseline: { label: 'JSON round trip of the record', value: roundTrip, unit: 'ms' }, target: target('< 5 ms (Engram 008)', merge < 5) })],
    details: { mergeMs: merge, jsonRoundTripMs: roundTrip, iterations },
  };
}
