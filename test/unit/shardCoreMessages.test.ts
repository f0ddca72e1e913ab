// The replication core among five copies, its snapshot installs, message bounds and wire messages, driven through
// test/support/coreHarness.ts like test/unit/shardCore.test.ts: an install cut short never
// passes for current, every message stays within the payload bound, and every malformed
// message is refused by the schemas in cluster/replication/messages.ts.
import { describe, expect, it } from 'vitest';
import { NO_EPOCH, type Epoch } from '../../cluster/replication/epoch.js';
import type { EpochHistory } from '../../cluster/replication/epochHistory.js';
import { packBatches, verifyBatch } from '../../cluster/replication/logBatch.js';
import {
  appendReply,
  appendRequest,
  fenceReply,
  fenceRequest,
  heartbeatReply,
  heartbeatRequest,
  MalformedMessageError,
  parseMessage,
  pullReply,
  pullRequest,
  REPLICATION_VERSION,
  snapshotReply,
  snapshotRequest,
  type AppendRequest,
} from '../../cluster/replication/messages.js';
import { operations } from '../../cluster/transport/operations.js';
import { CoreHarness, definition, SHARD, shardView, SPACE, storePayload, type WriteHandle } from '../support/coreHarness.js';
import { handle, ids, interruptedInstall, split, withPrimary } from '../support/coreScenarios.js';


describe('a returning old primary among five copies', () => {
  it('waitFor_doesNotCountACopyWhoseGapAnswerNamedItsOwnDivergentEntries', async () => {
    // Regression: when a shipment's prevSeq was past a replica's log, appendBody answered 'gap'
    // with applied = the replica's lastSeq before any divergence check, and ship() stored it as
    // `acked`. A returning old primary's entries up to its lastSeq are its own divergent ones,
    // yet they counted as holding the new primary's writes at those sequences. Five copies (QUORUM needs three):
    // a (old primary) wrote x2, x3 on its side; b leads b, c, d and makes a QUORUM write s2
    // at sequence 2 that only c acknowledges (d is cut off), then n3, n4. a comes back: its
    // gap answer says applied = 3, and the link to a drops again. c's acknowledgement of the
    // next write settles the waiters and counts a as holding sequence 2: s2 is acknowledged
    // while only b and c hold it, and the loss of those two (a minority of five) loses it.
    const nodes = ['a', 'b', 'c', 'd', 'e'];
    const harness = await withPrimary({ nodes });
    handle(harness.write('a', 'QUORUM', { id: 'm1' }));
    await harness.runUntilQuiet();
    split(harness, ['a', 'e'], 'a');
    split(harness, ['b', 'c', 'd'], 'b');
    harness.commit('a', { id: 'x2' });
    harness.commit('a', { id: 'x3' });
    harness.tick(['b']);
    await harness.runUntilQuiet();
    expect(harness.core('b').role).toBe('primary');
    harness.cut('b', 'd');
    const s2 = handle(harness.write('b', 'QUORUM', { id: 's2' }));
    harness.commit('b', { id: 'n3' });
    harness.commit('b', { id: 'n4' });
    await harness.runUntilQuiet();
    expect([s2.seq, s2.answers, harness.core('c').lastSeq]).toEqual([2, [], 4]);

    harness.heal('a', 'b');
    for (const node of ['a', 'b']) harness.setView(node, shardView(node, { primary: 'b', copies: nodes, live: ['a', 'b', 'c', 'd'] }));
    harness.advance(100);
    harness.tick(['b']);
    // Until b has a's first answer (a gap, since a's entries 2 and 3 diverge), then a drops again.
    await harness.runUntil(() => {
      const progress = harness.core('b').replicas.progressIfAny('a');
      return progress !== undefined && (progress.next !== null || progress.acked !== null);
    });
    harness.cut('b', 'a');
    await harness.runUntilQuiet();
    harness.commit('b', { id: 'n5' });
    await harness.runUntilQuiet();
    const holders = nodes.filter((node) => ids(harness.storage(node).logOf(SPACE, SHARD).filter((entry) => entry.seq === 2)).includes('s2'));
    expect(holders).toEqual(['b', 'c']);
    expect(s2.answers).toEqual([]);
  });
});

describe('snapshot installs', () => {
  it('install_interruptedAfterBeginInstall_loadsAsLastSeqZeroEmptyHistoryAndInstalling', async () => {
    const harness = await interruptedInstall({ bHasData: true });
    const position = await harness.storage('c').load(SPACE, SHARD);
    expect(position).toEqual({ lastSeq: 0, epoch: harness.core('a').epoch, history: [], installing: true });
    expect(harness.storage('c').recordsOf(SPACE, SHARD).size).toBe(0);
    const c = harness.core('c');
    expect([c.lastSeq, c.history, c.installing]).toEqual([0, [], true]);
  });

  it('claim_neverPicksACopyMidInstallAsItsSource_andTheCopyInstallsAgainFromTheNewPrimary', async () => {
    const harness = await interruptedInstall({ bHasData: true });
    harness.crash('a');
    split(harness, ['b', 'c'], 'b');
    await harness.settle(10);

    const b = harness.core('b');
    expect(b.role).toBe('primary');
    const fenceAnswer = harness.replies.find((r) => r.from === 'c' && r.to === 'b' && r.op === operations.fence);
    expect(fenceAnswer?.message).toEqual(expect.objectContaining({ ok: true, last: 0, history: [], installing: true }));
    expect(harness.requests.filter((r) => r.from === 'b' && r.to === 'c' && (r.op === operations.pull || r.op === operations.snapshot))).toEqual([]);
    expect(harness.eventsOf('b', 'promoted')).toEqual([expect.objectContaining({ lastSeq: 5, fenced: ['c'] })]);
    // c installed again, from b, and then holds what b holds.
    expect(harness.eventsOf('c', 'snapshotInstalled')).toEqual([{ kind: 'snapshotInstalled', seq: 5, source: 'b' }]);
    const c = harness.core('c');
    expect([c.installing, c.lastSeq]).toEqual([false, 5]);
    expect([...harness.storage('c').recordsOf(SPACE, SHARD).keys()].sort()).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
  });

  it('claim_byACopyMidInstall_installsFromACurrentCopyBeforeItLeads', async () => {
    const harness = await interruptedInstall({ bHasData: true });
    harness.crash('a');
    split(harness, ['b', 'c'], 'c');
    await harness.settle(10);
    const c = harness.core('c');
    expect(c.role).toBe('primary');
    expect(harness.eventsOf('c', 'snapshotInstalled')).toEqual([{ kind: 'snapshotInstalled', seq: 5, source: 'b' }]);
    expect(harness.eventsOf('c', 'promoted')).toEqual([expect.objectContaining({ lastSeq: 5 })]);
    expect([...harness.storage('c').recordsOf(SPACE, SHARD).keys()].sort()).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
  });
});

describe('message bounds', () => {
  const settings = { maxPayloadBytes: 64 * 1024, payloadReserveBytes: 8 * 1024 };
  const FLOATS = 3000;
  const COUNT = 86;

  /**
   * Runs of three large entries (3,000 floats, about 16 KB of JSON) followed by forty small
   * ones, so a batch or chunk fills up to within a few hundred bytes of its budget.
   */
  function mixedWrites(harness: CoreHarness, node: string): WriteHandle[] {
    return Array.from({ length: COUNT }, (_, i) => handle(harness.write(node, 'QUORUM', { id: `big-${String(i).padStart(2, '0')}`, floats: i % 43 < 3 ? FLOATS : 4 })));
  }

  it('ship_keepsEveryAppendRequestWithinThePayloadBound_forEntriesWith3000FloatEmbeddings', async () => {
    const harness = await withPrimary({ settings });
    harness.cut('a', 'c');
    const writes = mixedWrites(harness, 'a');
    await harness.runUntilQuiet();
    expect(writes.every((w) => w.answers.length === 1 && 'resolved' in w.answers[0]!)).toBe(true);
    // c returns all of them behind: it gets them in batches.
    harness.heal('a', 'c');
    await harness.settle(10);
    expect(harness.core('c').lastSeq).toBe(COUNT);
    expect(harness.storage('c').logOf(SPACE, SHARD)).toEqual(harness.storage('a').logOf(SPACE, SHARD));

    const appends = harness.requests.filter((r) => r.op === operations.append);
    const batches = appends.map((r) => (r.message as AppendRequest).batch).filter((batch) => batch !== null);
    expect(batches.filter((batch) => batch.entries.some((entry) => ((entry.payload as { embedding: string }).embedding.length * 3) / 4 === FLOATS * 4)).length).toBeGreaterThan(0);
    expect(Math.max(...batches.map((batch) => batch.entries.length))).toBeGreaterThan(3);
    for (const request of appends) expect(request.bytes).toBeLessThanOrEqual(harness.settings.maxPayloadBytes);
    expect(Math.max(...appends.map((r) => r.bytes))).toBeGreaterThan(harness.settings.maxPayloadBytes - 2 * harness.settings.payloadReserveBytes);
  });

  it('catchUp_keepsEveryPullAndSnapshotReplyWithinThePayloadBound', async () => {
    const harness = await withPrimary({ settings });
    harness.cut('a', 'c');
    mixedWrites(harness, 'a');
    await harness.runUntilQuiet();
    // a dies; c, every entry behind, claims with b and pulls them.
    harness.crash('a');
    split(harness, ['b', 'c'], 'c');
    await harness.settle(5);
    expect(harness.core('c').role).toBe('primary');
    expect(harness.core('c').lastSeq).toBe(COUNT);
    const pulls = harness.replies.filter((r) => r.op === operations.pull);
    expect(pulls.length).toBeGreaterThan(1);
    for (const reply of pulls) expect(reply.bytes).toBeLessThanOrEqual(harness.settings.maxPayloadBytes);

    // b loses its log behind a checkpoint while it is cut off; it installs a snapshot from c.
    harness.cut('b', 'c');
    for (let i = 0; i < 4; i++) harness.commit('c', { id: `later-${i}`, floats: FLOATS });
    await harness.runUntilQuiet();
    harness.storage('c').compact(SPACE, SHARD, COUNT + 2);
    harness.heal('b', 'c');
    await harness.settle(10);
    expect(harness.eventsOf('b', 'snapshotInstalled')).toHaveLength(1);
    expect(harness.core('b').lastSeq).toBe(COUNT + 4);
    expect(harness.storage('b').recordsOf(SPACE, SHARD)).toEqual(harness.storage('c').recordsOf(SPACE, SHARD));
    const chunks = harness.replies.filter((r) => r.op === operations.snapshot);
    expect(chunks.length).toBeGreaterThan(1);
    for (const reply of chunks) expect(reply.bytes).toBeLessThanOrEqual(harness.settings.maxPayloadBytes);
  });
});

describe('wire messages', () => {
  const epoch: Epoch = [3, 'a'];
  const history: EpochHistory = [[epoch, 1]];
  const fence = { v: REPLICATION_VERSION, space: SPACE, shard: 0, definition, epoch, from: 'a' };
  const [batch] = packBatches({ space: SPACE, shard: 0, epoch, primary: 'a' }, [{ seq: 1, type: 'STORE', timestampMs: 5, payload: storePayload('m1', 5) }], 1 << 20);
  const append: AppendRequest = { v: REPLICATION_VERSION, space: SPACE, shard: 0, definition, epoch, from: 'a', history, last: 1, prevSeq: 0, prevEpoch: NO_EPOCH, batch: batch!, compacted: false };
  const malformed = (schema: Parameters<typeof parseMessage>[0], value: unknown) => () => parseMessage(schema, value, 'test message');

  it('schemas_acceptWellFormedMessages', () => {
    expect(parseMessage(fenceRequest, fence, 'fence')).toEqual(fence);
    expect(parseMessage(appendRequest, append, 'append')).toEqual(append);
    expect(() => parseMessage(fenceReply, { v: 1, ok: true, epoch, last: 1, history, installing: false }, 'x')).not.toThrow();
    expect(() => parseMessage(appendReply, { v: 1, ok: false, reason: 'gap', epoch, applied: 0 }, 'x')).not.toThrow();
    expect(() => parseMessage(pullRequest, { v: 1, space: SPACE, shard: 0, fromSeq: 1, maxBytes: 4096 }, 'x')).not.toThrow();
    expect(() => parseMessage(pullReply, { v: 1, history, last: 1, entries: null }, 'x')).not.toThrow();
    expect(() => parseMessage(snapshotRequest, { v: 1, space: SPACE, shard: 0, after: null, maxBytes: 4096 }, 'x')).not.toThrow();
    expect(() => parseMessage(snapshotReply, { v: 1, records: [], next: null, seq: 0, history: [] }, 'x')).not.toThrow();
    expect(() => parseMessage(heartbeatRequest, { v: 1, from: 'a', shards: [[SPACE, 0, epoch, false]] }, 'x')).not.toThrow();
    expect(() => parseMessage(heartbeatReply, { v: 1, shards: [[SPACE, 0, epoch]] }, 'x')).not.toThrow();
  });

  it('schemas_refuseAWrongVersion', () => {
    expect(malformed(fenceRequest, { ...fence, v: 2 })).toThrow(MalformedMessageError);
    expect(malformed(appendRequest, { ...append, v: 0 })).toThrow(MalformedMessageError);
    expect(malformed(appendRequest, { ...append, batch: { ...batch!, v: 1 } })).toThrow(MalformedMessageError);
    expect(malformed(heartbeatRequest, { v: '1', from: 'a', shards: [] })).toThrow(MalformedMessageError);
    const { v: _, ...unversioned } = fence;
    expect(malformed(fenceRequest, unversioned)).toThrow(/Malformed test message: v/);
  });

  it('schemas_refuseMissingFields', () => {
    const { history: _history, ...noHistory } = append;
    expect(malformed(appendRequest, noHistory)).toThrow(/history/);
    const { epoch: _epoch, ...noEpoch } = fence;
    expect(malformed(fenceRequest, noEpoch)).toThrow(/epoch/);
    expect(malformed(fenceRequest, { ...fence, definition: { id: SPACE } })).toThrow(MalformedMessageError);
    expect(malformed(fenceReply, { v: 1, ok: true, epoch, last: 1, history })).toThrow(/installing/);
    expect(malformed(snapshotReply, { v: 1, records: [{ record: { id: 'm1' }, embedding: null }], next: null, seq: 0, history: [] })).toThrow(/links/);
  });

  it('schemas_refuseAStringWhereANumberBelongs_andOtherWrongTypes', () => {
    expect(malformed(pullRequest, { v: 1, space: SPACE, shard: 0, fromSeq: '1', maxBytes: 4096 })).toThrow(/fromSeq/);
    expect(malformed(appendRequest, { ...append, prevSeq: '0' })).toThrow(/prevSeq/);
    expect(malformed(appendReply, { v: 1, ok: true, epoch, applied: '3' })).toThrow(/applied/);
    expect(malformed(fenceRequest, { ...fence, epoch: ['3', 'a'] })).toThrow(/epoch/);
    expect(malformed(fenceRequest, { ...fence, shard: 1.5 })).toThrow(/shard/);
    expect(malformed(heartbeatRequest, { v: 1, from: 'a', shards: [[SPACE, '0', epoch, false]] })).toThrow(MalformedMessageError);
    expect(malformed(appendReply, { v: 1, ok: false, reason: 'tired', epoch, applied: 0 })).toThrow(/reason/);
    expect(malformed(pullRequest, { v: 1, space: SPACE, shard: 0, fromSeq: -1, maxBytes: 4096 })).toThrow(/fromSeq/);
    expect(malformed(snapshotRequest, { v: 1, space: SPACE, shard: 0, after: null, maxBytes: 10 })).toThrow(/maxBytes/);
    expect(malformed(fenceRequest, { ...fence, from: '' })).toThrow(/from/);
  });

  it('verifyBatch_afterTheAppendSchemaParsedIt_acceptsAnIntactBatchWhoseEntriesListTheirFieldsInAnotherOrder', () => {
    // Regression (latent bug): the batch checksum (logBatch.ts) is taken over JSON.stringify of the
    // entries as the sender built them, and checked over the entries the receiver's zod
    // schema rebuilt, which lists their fields in schema order (seq, type, timestampMs,
    // payload) and drops fields it does not know. An intact batch whose entries were built in
    // another order, or that carry a field added later (wire types are append-only), is then
    // answered 'corrupt' on every retry and the replica never catches up. The engine's readLog
    // happens to build entries in schema order today; MemoryStorage first built merged
    // hand-backs as { seq, timestampMs, type, payload } and stalled a replica this way.
    const entry = { seq: 1, timestampMs: 5, type: 'STORE' as const, payload: storePayload('m1', 5) };
    const [sent] = packBatches({ space: SPACE, shard: 0, epoch, primary: 'a' }, [entry], 1 << 20);
    const received = parseMessage<AppendRequest>(appendRequest, JSON.parse(JSON.stringify({ ...append, batch: sent })), 'append');
    expect(received.batch!.entries).toEqual(sent!.entries);
    expect(verifyBatch(received.batch!)).toBe(true);
  });

  it('appendReply_thatIsMalformed_isNotCountedAsAnAcknowledgement', async () => {
    const harness = await withPrimary();
    harness.cut('a', 'c');
    // b's answers arrive with `applied` as a string.
    harness.tamper = (reply) => (reply.op === operations.append ? { ...(reply.message as object), applied: String((reply.message as { applied: number }).applied) } : reply.message);
    const write = handle(harness.write('a', 'QUORUM'));
    await harness.runUntilQuiet();
    expect(harness.core('b').lastSeq).toBe(write.seq);
    expect(write.answers).toEqual([]);
    // Well-formed again, the next shipment counts.
    harness.tamper = (reply) => reply.message;
    await harness.settle(5);
    expect(write.answers).toEqual([{ resolved: true }]);
  });
});
