// The replication storage port over the engine (cluster/replication/engineStorage.ts, with
// the batches in src/engine/shardSync.ts), on engines backed by the in-memory store and the
// exact index, so a test can make the store refuse a given write and reopen an engine on the
// same bytes as a restarted node would. What it checks is the port's promise that the epoch
// history always describes exactly the log on disk: applied entries and their history land in
// one batch, a log cut lands with its hand-backs and history, a snapshot install is staged so
// an interrupted one loads as an empty, installing copy; and the byte bounds of readLog and
// snapshotChunk, which shipping relies on to stay under the transport's payload. The
// in-memory model of the port (memoryStorage.ts), which the core's unit tests run on, is
// checked against this one on the same calls.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineStorage } from '../../cluster/replication/engineStorage.js';
import { NO_EPOCH, type Epoch } from '../../cluster/replication/epoch.js';
import { historyUpTo, type EpochHistory } from '../../cluster/replication/epochHistory.js';
import { entryBytes } from '../../cluster/replication/logBatch.js';
import { defaultReplicationSettings } from '../../cluster/replication/replicationSettings.js';
import { MemoryStorage } from '../../cluster/replication/memoryStorage.js';
import { ShardCore } from '../../cluster/replication/shardCore.js';
import type { ShippedEntry } from '../../cluster/replication/storagePort.js';
import { defaultLimitSettings, presets } from '../../src/config.js';
import { Engine, type Logger } from '../../src/engine/engine.js';
import { entryIds } from '../../src/engine/shardSync.js';
import { ManualScheduler } from '../../src/engine/scheduler.js';
import { StorageError } from '../../src/errors.js';
import { keys, prefixEnd } from '../../src/storage/keys.js';
import type { WriteOp } from '../../src/storage/keyValueStore.js';
import { MemoryStore } from '../../src/storage/memoryStore.js';
import { callStorage, shardView } from '../support/coreHarness.js';

const DIM = 8;
const SPACE = 'alpha';
const START_MS = Date.UTC(2026, 0, 1);
const E1: Epoch = [1, 'p'];
const E2: Epoch = [2, 'p'];
const E3: Epoch = [3, 'q'];
/** E1 wrote sequences 2..4 (1 is the space's creation), E2 from 5 on. */
const HISTORY: EpochHistory = [
  [E1, 2],
  [E2, 5],
];

interface Node {
  engine: Engine;
  storage: EngineStorage;
  store: MemoryStore;
}

const opened: Engine[] = [];

afterEach(() => {
  opened.length = 0;
});

/** An engine on `store` as the simulator runs one; dropping it without close is a crash. */
async function openNode(store: MemoryStore, name: string): Promise<Node> {
  const scheduler = new ManualScheduler(START_MS);
  const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {} };
  let next = 0;
  const engine = await Engine.open({
    store,
    nodeId: name,
    settings: presets.test.engine,
    limits: defaultLimitSettings,
    logger: quiet,
    index: 'exact',
    now: scheduler.now,
    elapsedNow: scheduler.now,
    scheduler,
    newId: () => `${name}-${++next}`,
  });
  opened.push(engine);
  const storage = new EngineStorage(engine);
  await storage.open();
  return { engine, storage, store };
}

/** A unit vector on axis `axis`: memories on different axes never link. */
function axis(axis: number): number[] {
  return Array.from({ length: DIM }, (_, d) => (d === axis % DIM ? 1 : 0));
}

/**
 * Counts the store's writes from now on and refuses those numbered in `refused` (1 is the
 * next write), as a full disk or an I/O error would: a refused batch changes nothing.
 */
function watchWrites(store: MemoryStore, refused: readonly number[] = []): { batches: WriteOp[][]; stop: () => void } {
  const original = store.write.bind(store);
  const batches: WriteOp[][] = [];
  store.write = async (ops) => {
    batches.push([...ops]);
    if (refused.includes(batches.length)) throw new StorageError('the test store refused this write');
    return original(ops);
  };
  return { batches, stop: () => void delete (store as { write?: unknown }).write };
}

const family = (key: Buffer) => String.fromCharCode(key[0]!);
const putsOf = (ops: readonly WriteOp[], letter: string) => ops.filter((op) => op.type === 'put' && family(op.key) === letter);
const logPuts = (ops: readonly WriteOp[]) => putsOf(ops, 'L');

async function logSeqs(store: MemoryStore, shard = 0): Promise<number[]> {
  const prefix = keys.log(SPACE, shard);
  const seqs: number[] = [];
  for await (const { key } of store.scan({ gte: prefix, lt: prefixEnd(prefix) })) seqs.push(Number(key.readBigUInt64BE(key.length - 8)));
  return seqs;
}

/**
 * The primary p: space alpha (one shard) with a1..a3 stored, then a1 suppressed and a2
 * deleted: log entries 2..6 after the space's creation at 1.
 */
async function primaryWithEntries(): Promise<{ primary: Node; entries: ShippedEntry[] }> {
  const primary = await openNode(new MemoryStore(), 'p');
  await primary.engine.createSpace(SPACE, DIM, 1);
  for (const [i, id] of ['a1', 'a2', 'a3'].entries()) await primary.engine.remember(SPACE, { id, content: `memory ${id}`, embedding: axis(i) });
  await primary.engine.forget(SPACE, 'a1', 'SUPPRESS');
  await primary.engine.forget(SPACE, 'a2', 'DELETE');
  const entries = await primary.storage.readLog(SPACE, 0, 2, 100, 1 << 20);
  if (entries === 'compacted') throw new Error('the log of a new space is never compacted');
  expect(entries.map((e) => [e.seq, e.type])).toEqual([
    [2, 'STORE'],
    [3, 'STORE'],
    [4, 'STORE'],
    [5, 'UPDATE'],
    [6, 'DELETE'],
  ]);
  return { primary, entries };
}

/** A replica r of alpha that created the space from a peer (its own creation entry is seq 1). */
async function replica(store = new MemoryStore()): Promise<Node> {
  const node = await openNode(store, 'r');
  await node.engine.createSpace(SPACE, DIM, 1, true);
  return node;
}

/** The replica with every entry of the primary applied under HISTORY. */
async function replicaWithEntries(entries: readonly ShippedEntry[]): Promise<Node> {
  const node = await replica();
  expect(await node.storage.apply(SPACE, 0, entries, E2, HISTORY)).toBe(6);
  return node;
}

describe('apply', () => {
  it('apply_whoseBatchTheStoreRefuses_movesNeitherTheLogNorTheEpochHistory', async () => {
    const { entries } = await primaryWithEntries();
    const node = await replica();
    const before = await node.storage.load(SPACE, 0);
    expect(before).toEqual({ epoch: NO_EPOCH, history: [], lastSeq: 1, installing: false });

    const watch = watchWrites(node.store, [1]);
    await expect(node.storage.apply(SPACE, 0, entries, E2, HISTORY)).rejects.toThrow(StorageError);
    watch.stop();
    // The refused batch held the log entries and the history together.
    expect(logPuts(watch.batches[0]!).length).toBeGreaterThan(0);
    expect(putsOf(watch.batches[0]!, 'R')).toHaveLength(1);
    expect(await node.storage.load(SPACE, 0)).toEqual(before);
    expect(await node.store.get(keys.replication(SPACE, 0))).toBeNull();
    expect(await logSeqs(node.store)).toEqual([1]);
    expect(await node.engine.getMemory(SPACE, 'a3')).toBeNull();

    // Reopened on the same bytes, nothing moved either.
    const reopened = await openNode(node.store, 'r');
    expect(await reopened.storage.load(SPACE, 0)).toEqual(before);
  });

  it('apply_refusedPartWay_leavesTheHistoryOfExactlyTheEntriesThatLanded', async () => {
    const { entries } = await primaryWithEntries();
    const node = await replica();
    // 2..4 touch three memories and share a batch; 5 touches a1 again, so it starts the second.
    const watch = watchWrites(node.store, [2]);
    await expect(node.storage.apply(SPACE, 0, entries, E2, HISTORY)).rejects.toThrow(StorageError);
    watch.stop();
    expect(watch.batches.map((ops) => logPuts(ops).length)).toEqual([3, 2]);
    const position = { epoch: E2, history: historyUpTo(HISTORY, 4), lastSeq: 4, installing: false };
    expect(position.history).toEqual([[E1, 2]]);
    expect(await node.storage.load(SPACE, 0)).toEqual(position);
    expect(await logSeqs(node.store)).toEqual([1, 2, 3, 4]);
    expect((await node.engine.getMemory(SPACE, 'a1'))?.suppressed).toBe(false);

    const reopened = await openNode(node.store, 'r');
    expect(await reopened.storage.load(SPACE, 0)).toEqual(position);
    // Applying the same entries again skips those held and finishes the rest.
    expect(await reopened.storage.apply(SPACE, 0, entries, E2, HISTORY)).toBe(6);
    expect(await reopened.storage.load(SPACE, 0)).toEqual({ epoch: E2, history: HISTORY, lastSeq: 6, installing: false });
    expect((await reopened.engine.getMemory(SPACE, 'a1'))?.suppressed).toBe(true);
    expect(await reopened.engine.getMemory(SPACE, 'a2')).toBeNull();
  });

  it('apply_writesTheEpochHistoryInEveryBatchThatWritesLogEntries_andStopsAtAGap', async () => {
    const { entries } = await primaryWithEntries();
    const node = await replica();
    const watch = watchWrites(node.store);
    // A gap: 2, 3, then 5.
    expect(await node.storage.apply(SPACE, 0, [entries[0]!, entries[1]!, entries[3]!], E2, HISTORY)).toBe(3);
    expect(await node.storage.apply(SPACE, 0, entries, E2, HISTORY)).toBe(6);
    watch.stop();
    const withLog = watch.batches.filter((ops) => logPuts(ops).length > 0);
    expect(withLog.length).toBeGreaterThan(1);
    for (const ops of withLog) expect(putsOf(ops, 'R')).toHaveLength(1);
    expect(await logSeqs(node.store)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('truncate', () => {
  it('truncate_whoseBatchTheStoreRefuses_keepsTheLogTheHistoryAndNoHandBack', async () => {
    const { entries } = await primaryWithEntries();
    const node = await replicaWithEntries(entries);
    const watch = watchWrites(node.store, [1]);
    await expect(node.storage.truncate(SPACE, 0, 3, E3, historyUpTo(HISTORY, 3))).rejects.toThrow(StorageError);
    watch.stop();
    expect(await node.storage.load(SPACE, 0)).toEqual({ epoch: E2, history: HISTORY, lastSeq: 6, installing: false });
    expect(await logSeqs(node.store)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await node.storage.handBacks(10)).toEqual([]);
    expect(node.storage.handBackCount()).toBe(0);
  });

  it('truncate_writesTheHandBacksTheCutAndTheShortenedHistoryInOneBatch_thatSurviveAReopen', async () => {
    const { entries } = await primaryWithEntries();
    const node = await replicaWithEntries(entries);
    const watch = watchWrites(node.store);
    expect(await node.storage.truncate(SPACE, 0, 3, E3, historyUpTo(HISTORY, 3))).toBe(3);
    watch.stop();

    expect(watch.batches).toHaveLength(1);
    const [batch] = watch.batches;
    expect(putsOf(batch!, 'H')).toHaveLength(3);
    expect(batch!.filter((op) => op.type === 'delRange' && family(op.start) === 'L')).toEqual([{ type: 'delRange', start: keys.logEntry(SPACE, 0, 4), end: prefixEnd(keys.log(SPACE, 0)) }]);
    expect(putsOf(batch!, 'R')).toHaveLength(1);

    const position = { epoch: E3, history: [[E1, 2]], lastSeq: 3, installing: false };
    expect(await node.storage.load(SPACE, 0)).toEqual(position);
    expect(node.storage.handBackCount()).toBe(3);
    const handBacks = await node.storage.handBacks(10);
    // Entries 4..6 touched a3 (stored), a1 (suppressed) and a2 (deleted).
    expect(handBacks.map((h) => [h.id, h.cutSeq])).toEqual([
      ['a1', 3],
      ['a2', 3],
      ['a3', 3],
    ]);
    expect(handBacks[0]!.copy?.record.suppressed).toBe(true);
    // A delete hands back its tombstone: the deleted version set, with its clock.
    expect(handBacks[1]).toEqual(expect.objectContaining({ deletedVersion: expect.any(Object) }));
    expect(handBacks[1]!.copy?.record).toEqual(expect.objectContaining({ deleted: true, version: handBacks[1]!.deletedVersion }));
    expect(handBacks[2]!.copy?.embedding).toEqual(expect.any(String));

    // A crash right after: the next run finds the cut, the history and every hand-back.
    const reopened = await openNode(node.store, 'r');
    expect(await reopened.storage.load(SPACE, 0)).toEqual(position);
    expect(reopened.storage.handBackCount()).toBe(3);
    expect(await reopened.storage.handBacks(10)).toEqual(handBacks);
    expect(await reopened.storage.readLog(SPACE, 0, 4, 10, 1 << 20)).toEqual([]);
  });

  it('truncate_twiceAtOnePosition_afterASourcesEntriesReplacedTheFirstState_handsBackTheJoinOfBoth', async () => {
    const { entries } = await primaryWithEntries();
    const ports = [await replicaWithEntries(entries), null] as const;
    const memory = new MemoryStorage([ports[0].storage.definition(SPACE)!]);
    memory.commitLocal(SPACE, 0, 'CREATE_SPACE', { space: ports[0].storage.definition(SPACE) }, START_MS);
    expect(await memory.apply(SPACE, 0, entries, E2, HISTORY)).toBe(6);
    // q led E3 from 4 and wrote a3 again there, not knowing p's entries after 3.
    const q = await replica(new MemoryStore());
    expect(await q.storage.apply(SPACE, 0, entries.slice(0, 2), E1, [[E1, 2]])).toBe(3);
    await q.engine.remember(SPACE, { id: 'a3', content: 'a3 as q wrote it', embedding: axis(2) });
    const fromQ = await q.storage.readLog(SPACE, 0, 4, 10, 1 << 20);
    if (fromQ === 'compacted') throw new Error('a new log is never compacted');
    const qHistory: EpochHistory = [[E1, 2], [E3, 4]];
    for (const port of [ports[0].storage, memory]) {
      // The first cut keeps p's a3; the source's entry then replaces it; the second cut must keep both.
      expect(await port.truncate(SPACE, 0, 3, E3, [[E1, 2]])).toBe(3);
      expect(await port.apply(SPACE, 0, fromQ, E3, qHistory)).toBe(4);
      expect(await port.truncate(SPACE, 0, 3, [4, 's'], [[E1, 2]])).toBe(1);
      const a3 = (await port.handBacks(10)).find((h) => h.id === 'a3')!;
      const contents = (a3.copy!.record.versions ?? [a3.copy!.record]).map((v) => (v as { content?: string }).content).sort();
      expect(contents).toEqual(['a3 as q wrote it', 'memory a3']);
      expect(port.handBackCount()).toBe(3);
    }
  });
});

describe('snapshot installs', () => {
  it('beginInstall_whoseFirstBatchTheStoreRefuses_changesNothing', async () => {
    const { entries } = await primaryWithEntries();
    const node = await replicaWithEntries(entries);
    const watch = watchWrites(node.store, [1]);
    await expect(node.storage.beginInstall(SPACE, 0, E3)).rejects.toThrow(StorageError);
    watch.stop();
    expect(await node.storage.load(SPACE, 0)).toEqual({ epoch: E2, history: HISTORY, lastSeq: 6, installing: false });
    expect(await node.engine.getMemory(SPACE, 'a3')).not.toBeNull();
  });

  it('beginInstall_writesTheMarkerTheEmptyLogAndHistoryFirst_soAReopenLoadsAnInstallingCopyAtZero', async () => {
    const { entries } = await primaryWithEntries();
    const node = await replicaWithEntries(entries);
    const watch = watchWrites(node.store);
    await node.storage.beginInstall(SPACE, 0, E3);
    watch.stop();

    const [first, ...rest] = watch.batches;
    expect(putsOf(first!, 'I')).toHaveLength(1);
    expect(first!.filter((op) => op.type === 'delRange' && family(op.start) === 'L')).toHaveLength(1);
    expect(putsOf(first!, 'R')).toHaveLength(1);
    // Records go only after the first batch.
    expect(first!.some((op) => (op.type === 'del' || op.type === 'put') && family(op.key) === 'M')).toBe(false);
    expect(rest.some((ops) => ops.some((op) => op.type === 'del' && family(op.key) === 'M'))).toBe(true);

    const reopened = await openNode(node.store, 'r');
    expect(await reopened.storage.load(SPACE, 0)).toEqual({ epoch: E3, history: [], lastSeq: 0, installing: true });
    expect(await reopened.engine.getMemory(SPACE, 'a3')).toBeNull();
  });

  it('beginInstall_interruptedWhileClearingRecords_stillLoadsAsAnInstallingCopyAtZero', async () => {
    const { entries } = await primaryWithEntries();
    const node = await replicaWithEntries(entries);
    const watch = watchWrites(node.store, [2]);
    await expect(node.storage.beginInstall(SPACE, 0, E3)).rejects.toThrow(StorageError);
    watch.stop();
    const reopened = await openNode(node.store, 'r');
    expect(await reopened.storage.load(SPACE, 0)).toEqual({ epoch: E3, history: [], lastSeq: 0, installing: true });
  });

  it('finishInstall_afterTheChunks_restartsTheLogAtTheSnapshotWithItsHistory_andRemovesTheMarker', async () => {
    const { primary, entries } = await primaryWithEntries();
    const node = await replicaWithEntries(entries);
    await node.storage.beginInstall(SPACE, 0, E3);
    const installing = await openNode(node.store, 'r');
    let after: string | null = null;
    do {
      const chunk = await primary.storage.snapshotChunk(SPACE, 0, after, 1, 1 << 20);
      await installing.storage.installChunk(SPACE, 0, chunk.records);
      after = chunk.next;
    } while (after !== null);
    await installing.storage.finishInstall(SPACE, 0, 6, E3, HISTORY);

    const position = { epoch: E3, history: HISTORY, lastSeq: 6, installing: false };
    expect(await installing.storage.load(SPACE, 0)).toEqual(position);
    // The log restarts after the snapshot: what is older comes from a snapshot again.
    expect(await installing.storage.readLog(SPACE, 0, 2, 10, 1 << 20)).toBe('compacted');
    expect(await installing.storage.readLog(SPACE, 0, 7, 10, 1 << 20)).toEqual([]);
    const { label: _l1, ...a3 } = (await primary.engine.getMemory(SPACE, 'a3'))!;
    expect(await installing.engine.getMemory(SPACE, 'a3')).toEqual(expect.objectContaining(a3));
    expect((await installing.engine.getMemory(SPACE, 'a1'))?.suppressed).toBe(true);
    expect(await installing.engine.getMemory(SPACE, 'a2')).toBeNull();
    const reopened = await openNode(node.store, 'r');
    expect(await reopened.storage.load(SPACE, 0)).toEqual(position);
  });
});

describe('byte bounds', () => {
  /** A primary with 40 memories of very different sizes on a space of three shards. */
  async function varied(): Promise<Node> {
    const node = await openNode(new MemoryStore(), 'p');
    await node.engine.createSpace(SPACE, DIM, 3);
    for (let i = 0; i < 40; i++) await node.engine.remember(SPACE, { id: `v${String(i).padStart(2, '0')}`, content: `content ${i} ${'x'.repeat((i * 397) % 1500)}`, embedding: axis(i) });
    return node;
  }

  it('readLog_neverReturnsMoreThanMaxBytesOfShippedJson_exceptASingleFirstEntry_andFillsUpToTheBound', async () => {
    const node = await varied();
    const seqs = node.engine.space(SPACE).shardSeqs;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 25 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 8000 }), async (shard, fromSeq, maxEntries, maxBytes) => {
        const last = seqs[shard]!;
        const read = await node.storage.readLog(SPACE, shard, fromSeq, maxEntries, maxBytes);
        if (fromSeq > last) {
          expect(read).toEqual([]);
          return;
        }
        if (read === 'compacted') throw new Error(`a log that was never pruned reads as compacted from ${fromSeq}`);
        const bytes = read.reduce((sum, entry) => sum + entryBytes(entry), 0);
        expect(read.length).toBeGreaterThan(0);
        expect(read.length).toBeLessThanOrEqual(maxEntries);
        expect(read.map((entry) => entry.seq)).toEqual(read.map((_, i) => fromSeq + i));
        if (read.length > 1) expect(bytes).toBeLessThanOrEqual(maxBytes);
        const after = read.at(-1)!.seq + 1;
        if (read.length < maxEntries && after <= last) {
          const next = await node.storage.readLog(SPACE, shard, after, 1, 1);
          expect(bytes + entryBytes((next as ShippedEntry[])[0]!)).toBeGreaterThan(maxBytes);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('snapshotChunk_keepsEachChunkWithinMaxBytes_exceptASingleRecord_andCoversTheShardOnceInIdOrder', async () => {
    const node = await varied();
    const space = node.engine.space(SPACE);
    const all = (await node.engine.listMemories(SPACE, 100, null)).records.map((record) => record.id);
    expect(all).toHaveLength(40);
    for (const shard of [0, 1, 2]) {
      const expected = all.filter((id) => space.shardOf(id) === shard);
      for (const maxBytes of [1, 600, 2500, 8000, 1 << 20]) {
        for (const maxRecords of [1, 3, 256]) {
          const seen: string[] = [];
          let after: string | null = null;
          for (let round = 0; round < 500; round++) {
            const chunk = await node.storage.snapshotChunk(SPACE, shard, after, maxRecords, maxBytes);
            const bytes = chunk.records.reduce((sum, copy) => sum + Buffer.byteLength(JSON.stringify(copy)) + 1, 0);
            if (chunk.records.length > 1) expect(bytes).toBeLessThanOrEqual(maxBytes);
            expect(chunk.records.length).toBeLessThanOrEqual(maxRecords);
            seen.push(...chunk.records.map((copy) => copy.record.id));
            after = chunk.next;
            if (after === null) break;
          }
          expect(after).toBeNull();
          expect(seen).toEqual(expected);
        }
      }
    }
  });
});

describe('the in-memory model of the port', () => {
  /** What the two ports must agree on: sequences, types and ids, not node-local labels. */
  const shape = (read: ShippedEntry[] | 'compacted') => (read === 'compacted' ? read : read.map((e) => [e.seq, e.type, entryIds(e.type, e.payload).join()]));

  it('memoryStorage_agreesWithTheEngineStorage_onApplyTruncateInstallAndMerge', async () => {
    const { primary, entries } = await primaryWithEntries();
    const engine = await replica();
    const memory = new MemoryStorage([engine.storage.definition(SPACE)!]);
    // The engine's replica logged the space's creation at 1; the model starts with the same entry.
    memory.commitLocal(SPACE, 0, 'CREATE_SPACE', { space: engine.storage.definition(SPACE) }, START_MS);
    const ports = [engine.storage, memory] as const;
    const both = async <T>(run: (port: (typeof ports)[number]) => Promise<T>): Promise<T> => {
      const [a, b] = [await run(ports[0]), await run(ports[1])];
      expect(b).toEqual(a);
      return a;
    };
    const log = (from: number) => both(async (port) => shape(await port.readLog(SPACE, 0, from, 100, 1 << 20)));

    expect(await both((port) => port.apply(SPACE, 0, [entries[0]!, entries[1]!, entries[3]!], E2, HISTORY))).toBe(3);
    expect(await both((port) => port.apply(SPACE, 0, entries, E2, HISTORY))).toBe(6);
    expect(await both((port) => port.apply(SPACE, 0, entries, E3, HISTORY))).toBe(6);
    await both((port) => port.load(SPACE, 0));
    await log(1);
    expect(await log(7)).toEqual([]);

    expect(await both((port) => port.truncate(SPACE, 0, 3, E3, historyUpTo(HISTORY, 3)))).toBe(3);
    expect(await both((port) => port.truncate(SPACE, 0, 5, E3, historyUpTo(HISTORY, 3)))).toBe(0);
    await both(async (port) => (await port.handBacks(10)).map((h) => [h.id, h.cutSeq, h.copy === null, h.copy?.record.suppressed ?? null]));
    await both(async (port) => port.handBackCount());
    await both((port) => port.load(SPACE, 0));
    await log(1);

    await both(async (port) => (await port.snapshotChunk(SPACE, 0, null, 256, 1 << 20)).records.map((copy) => copy.record.id));
    await both(async (port) => {
      await port.beginInstall(SPACE, 0, E3);
      return port.load(SPACE, 0);
    });
    const snapshot = await primary.storage.snapshotChunk(SPACE, 0, null, 256, 1 << 20);
    await both(async (port) => {
      await port.installChunk(SPACE, 0, snapshot.records);
      await port.finishInstall(SPACE, 0, 6, E3, HISTORY);
      return port.load(SPACE, 0);
    });
    expect(await log(2)).toBe('compacted');
    expect(await log(7)).toEqual([]);
    await both(async (port) => (await port.snapshotChunk(SPACE, 0, null, 256, 1 << 20)).records.map((copy) => [copy.record.id, copy.record.suppressed]));

    // The claimant's own hand-backs come back as new log entries, merged by version.
    expect(await both((port) => port.mergeOwnHandBacks(SPACE, 0))).toBe(3);
    await both(async (port) => port.handBackCount());
    expect((await log(7)) as unknown[]).not.toHaveLength(0);
    await both((port) => port.load(SPACE, 0));
  });
});

describe('the port feeding a claim', () => {
  it('claim_overAFreshCopyWhoseLogHoldsOnlyItsOwnSpaceCreation_refusesAsEmptyWhenNoCopyAnswers', async () => {
    // Regression: every node logs a space's creation at sequence 1 of shard 0, so a copy that
    // never received a write loads with lastSeq 1; a claim that counted lastSeq > 0 as data
    // took a shard over empty. A copy holds data once it has an epoch history.
    const node = await openNode(new MemoryStore(), 'n');
    await node.engine.createSpace(SPACE, DIM, 1, true);
    const position = await node.storage.load(SPACE, 0);
    expect(position).toEqual({ epoch: NO_EPOCH, history: [], lastSeq: 1, installing: false });

    const core = new ShardCore({ space: SPACE, shard: 0, self: 'n', settings: defaultReplicationSettings, position, definition: () => node.storage.definition(SPACE) });
    const events: string[] = [];
    let pending = core.onTick(shardView('n', { primary: 'n', copies: ['n', 'o', 'q'] }), START_MS);
    for (let step = 0; pending.length > 0 && step < 100; step++) {
      const next = pending.shift()!;
      if (next.type === 'request') pending.push(...core.onOutcome(next.token, { ok: false, error: `${next.to} does not answer` }, START_MS));
      else if (next.type === 'storage') pending.push(...core.onOutcome(next.token, { ok: true, value: await callStorage(node.storage, next.call, SPACE, 0) }, START_MS));
      else if (next.type === 'event') events.push(`${next.event.kind}: ${'reason' in next.event ? next.event.reason : ''}`);
    }
    expect(core.role).toBe('replica');
    expect(events).toEqual([expect.stringMatching(/^claimRefused: no copy/)]);
  });
});
