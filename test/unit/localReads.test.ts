import { describe, expect, it } from 'vitest';
import { LatencyTracker } from '../../cluster/query/latencyTracker.js';
import { LocalReads, type CopyView, type LocalRead, type LocalReadVerdict } from '../../cluster/query/localReads.js';
import { defaultQuerySettings, type QuerySettings } from '../../cluster/query/querySettings.js';
import type { Epoch } from '../../cluster/replication/epoch.js';
import { answerPositions, holdsThrough, positionRequest, type CopyPosition } from '../../cluster/replication/readPosition.js';
import { operations } from '../../cluster/transport/operations.js';
import { nodeClock } from '../../cluster/sim/simNode.js';
import { SimNetwork } from '../../cluster/sim/simNetwork.js';
import { BadInputError } from '../../src/errors.js';

const E1: Epoch = [1, 'n1'];
const E2: Epoch = [2, 'n2'];
const E3: Epoch = [3, 'n3'];

function copy(role: CopyPosition['role'], lastSeq: number, history: [Epoch, number][], options: { installing?: boolean; lease?: boolean } = {}): CopyPosition & { lastSeq: number; history: [Epoch, number][] } {
  return { role, lastSeq, history, installing: options.installing ?? false, leaseHeld: () => options.lease ?? true };
}

describe('read positions', () => {
  it('aReplicaHoldsThePrimarysPosition_onlyWhenItsLogReachesItUnderTheSameHistory', () => {
    const history: [Epoch, number][] = [[E1, 1], [E2, 40]];
    expect(holdsThrough(copy('replica', 55, history), { last: 55, history })).toBe(true);
    expect(holdsThrough(copy('replica', 60, history), { last: 55, history })).toBe(true);
    expect(holdsThrough(copy('replica', 54, history), { last: 55, history })).toBe(false);
    expect(holdsThrough(copy('replica', 55, history, { installing: true }), { last: 55, history })).toBe(false);
    expect(holdsThrough(copy('claiming', 55, history), { last: 55, history })).toBe(false);
    expect(holdsThrough(copy('primary', 55, history), { last: 55, history })).toBe(false);
    expect(holdsThrough(undefined, { last: 0, history: [] })).toBe(false);
  });

  it('aReplicaWhoseEntriesCameFromASupersededPrimary_doesNotHoldThePosition_evenPastItsSequence', () => {
    // The replica holds 50..60 from E2, which never reached the new primary; E3 wrote 50..55.
    const replica = copy('replica', 60, [[E1, 1], [E2, 50]]);
    expect(holdsThrough(replica, { last: 55, history: [[E1, 1], [E3, 50]] })).toBe(false);
    // Up to the end of E1 both logs agree.
    expect(holdsThrough(replica, { last: 49, history: [[E1, 1], [E3, 50]] })).toBe(true);
  });

  it('aNodeNamesItsPosition_onlyForShardsItLeads_withItsLease', () => {
    const cores = new Map<number, CopyPosition>([
      [0, copy('primary', 12, [[E1, 1]])],
      [1, copy('replica', 12, [[E1, 1]])],
      [2, copy('primary', 3, [[E2, 1]], { lease: false })],
    ]);
    const answers = answerPositions({ space: 's', shards: [0, 1, 2, 3] }, (_space, shard) => cores.get(shard), 0);
    expect(answers).toEqual([
      { shard: 0, last: 12, history: [[E1, 1]], current: true },
      { shard: 1, primary: false },
      { shard: 2, last: 3, history: [[E2, 1]], current: false },
      { shard: 3, primary: false },
    ]);
  });

  it('aPositionNamesOnlyTheEpochThatWroteItsLastEntry_andAReplicaIsJudgedByItAsByTheWholeHistory', () => {
    // E3 claimed at 50 and has written nothing yet: the last entry is E2's.
    const primary = copy('primary', 49, [[E1, 1], [E2, 30], [E3, 50]]);
    const [position] = answerPositions({ space: 's', shards: [0] }, () => primary, 0);
    expect(position).toEqual({ shard: 0, last: 49, history: [[E2, 30]], current: true });
    const p = position as { last: number; history: [Epoch, number][] };
    expect(holdsThrough(copy('replica', 49, [[E1, 1], [E2, 30]]), p)).toBe(true);
    expect(holdsThrough(copy('replica', 49, [[E1, 1], [E2, 30], [E3, 50]]), p)).toBe(true);
    // The same sequences written by another epoch's primary.
    expect(holdsThrough(copy('replica', 49, [[E1, 1], [[2, 'n9'], 30]]), p)).toBe(false);
    expect(holdsThrough(copy('replica', 49, [[E1, 1]]), p)).toBe(false);
    expect(holdsThrough(copy('replica', 48, [[E1, 1], [E2, 30]]), p)).toBe(false);
  });

  it('aMalformedPositionRequest_isBadInput', () => {
    for (const body of [null, {}, { space: 's' }, { space: '', shards: [0] }, { space: 's', shards: [-1] }, { space: 's', shards: [0.5] }, { space: 's', shards: 'x' }, { space: 's', shards: new Array(1025).fill(0) }]) {
      expect(() => positionRequest(body)).toThrow(BadInputError);
    }
    expect(positionRequest({ space: 's', shards: [0, 3] })).toEqual({ space: 's', shards: [0, 3] });
  });
});

/** Three nodes; this node n0 holds replicas of every shard of space s unless told otherwise. */
function harness(options: { primaries: string[]; held?: boolean[]; settings?: Partial<QuerySettings>; slow?: string[] }) {
  const network = new SimNetwork({ seed: 1 });
  const clock = nodeClock(network, 'n0');
  const history: [Epoch, number][] = [[E1, 1]];
  const primaryCopies = new Map<number, CopyPosition & { lastSeq: number }>(options.primaries.map((_, shard) => [shard, copy('primary', 20, history)]));
  const local = new Map<number, CopyPosition & { lastSeq: number }>(options.primaries.map((primary, shard) => [shard, primary === 'n0' ? primaryCopies.get(shard)! : copy('replica', 20, history)]));
  /** node -> answer delay in ms, or null for a node that never answers. */
  const delays = new Map<string, number | null>([['n1', 1], ['n2', 1]]);
  const calls: { node: string; op: string; shards: number[] }[] = [];
  const router = {
    clock,
    callOnce: (node: string, op: string, body: { space: string; shards: number[] }, _headers: unknown, timeoutMs: number) => {
      calls.push({ node, op, shards: body.shards });
      const delay = delays.get(node);
      return new Promise((resolve, reject) => {
        network.at(network.nowMs + timeoutMs, () => reject(new Error('timeout')));
        if (delay === null || delay === undefined) return;
        const answer = answerPositions(body, (_space, shard) => (options.primaries[shard] === node ? primaryCopies.get(shard) : undefined), network.nowMs);
        network.at(network.nowMs + delay, () => resolve(answer));
      });
    },
  };
  const view: CopyView = {
    assignment: (_space, shard) => ({ shard, primary: options.primaries[shard]!, replicas: ['n0', 'n1', 'n2'].filter((n) => n !== options.primaries[shard]) }),
    canRead: (_space, shard) => options.held?.[shard] !== false,
    copyAt: (_space, shard) => (options.held?.[shard] === false ? undefined : local.get(shard)),
    holdsCopy: (_space, shard) => options.held?.[shard] !== false,
  };
  const settings = { ...defaultQuerySettings, ...options.settings };
  const verdicts: LocalReadVerdict[] = [];
  const reads = new LocalReads(router as never, 'n0', view, settings, clock, new LatencyTracker(settings), {
    isSlow: (node) => options.slow?.includes(node) === true,
    watched: (_node, call) => call,
    onVerdict: (verdict) => verdicts.push(verdict),
    span: (_name, _attributes, work) => work(),
  });
  const prepare = async (allowReplica = false) => {
    let result: LocalRead | null | undefined;
    const started = network.nowMs;
    void reads.prepare('s', options.primaries.map((_, shard) => shard), allowReplica, {}).then((r) => (result = r));
    while (result === undefined) await network.runFor(1);
    return { result, ms: network.nowMs - started };
  };
  return { network, calls, delays, local, primaryCopies, verdicts, prepare };
}

describe('LocalReads', () => {
  it('aNodeHoldingEveryShard_asksEachRemotePrimaryOnceForItsPosition_andAnswersItself', async () => {
    const h = harness({ primaries: ['n0', 'n1', 'n2', 'n1', 'n0', 'n2'] });
    const { result, ms } = await h.prepare();
    expect(result).toEqual({ stale: false });
    expect(h.calls.map((c) => [c.node, c.op, c.shards])).toEqual([
      ['n1', operations.position, [1, 3]],
      ['n2', operations.position, [2, 5]],
    ]);
    expect(ms).toBeLessThanOrEqual(2);
    expect(h.verdicts).toEqual(['local']);
  });

  it('aCopyBehindThePosition_waitsUntilItHoldsIt', async () => {
    const h = harness({ primaries: ['n1', 'n2'] });
    h.local.get(1)!.lastSeq = 18;
    h.network.at(h.network.nowMs + 4, () => (h.local.get(1)!.lastSeq = 20));
    const { result, ms } = await h.prepare();
    expect(result).toEqual({ stale: false });
    expect(ms).toBeGreaterThanOrEqual(4);
    expect(ms).toBeLessThan(defaultQuerySettings.localReadWaitMs);
  });

  it('aCopyThatDoesNotCatchUpWithinTheWait_leavesTheReadToThePrimaries', async () => {
    const h = harness({ primaries: ['n1', 'n2'] });
    h.local.get(0)!.lastSeq = 19;
    const { result, ms } = await h.prepare();
    expect(result).toBeNull();
    expect(ms).toBeGreaterThanOrEqual(defaultQuerySettings.localReadWaitMs);
    expect(ms).toBeLessThanOrEqual(defaultQuerySettings.localReadWaitMs + 2);
    expect(h.verdicts).toEqual(['lagging']);
  });

  it('aWriteThePrimaryCommitsAfterTheCopyCaughtUp_isWaitedFor', async () => {
    const h = harness({ primaries: ['n1'] });
    // The primary committed seq 21 (acknowledged) just before the read; the copy has 20.
    h.primaryCopies.get(0)!.lastSeq = 21;
    const { result } = await h.prepare();
    expect(result).toBeNull();
    expect(h.verdicts).toEqual(['lagging']);
  });

  it('aPrimaryThatNamesNoPositionInTime_leavesTheReadToTheScatter_withinTheHedgeDelay', async () => {
    const h = harness({ primaries: ['n1', 'n2'] });
    h.delays.set('n2', null);
    const { result, ms } = await h.prepare();
    expect(result).toBeNull();
    expect(ms).toBeLessThanOrEqual(defaultQuerySettings.hedgeInitialMs + 1);
    expect(h.verdicts).toEqual(['unanswered']);
  });

  it('aNodeThatNoLongerLeadsTheShard_givesNoPosition_andTheReadIsScattered', async () => {
    const h = harness({ primaries: ['n1', 'n2'] });
    h.primaryCopies.set(1, copy('replica', 20, [[E1, 1]]));
    const { result } = await h.prepare();
    expect(result).toBeNull();
    expect(h.verdicts).toEqual(['unanswered']);
  });

  it('oncePositionRoundTripsAreKnown_aPrimaryIsWaitedForAFewHedgeDelays_notTheInitialOne', async () => {
    const h = harness({ primaries: ['n1', 'n2'] });
    for (let i = 0; i < defaultQuerySettings.latencySamplesMin; i++) expect((await h.prepare()).result).toEqual({ stale: false });
    h.delays.set('n2', null);
    const { result, ms } = await h.prepare();
    expect(result).toBeNull();
    // Round trips of 1 ms: the hedge delay is its floor, 2 ms, and the wait three of them.
    expect(ms).toBeGreaterThanOrEqual(defaultQuerySettings.hedgeMinMs * defaultQuerySettings.localReadPositionFactor);
    expect(ms).toBeLessThanOrEqual(defaultQuerySettings.hedgeMinMs * defaultQuerySettings.localReadPositionFactor + 1);
  });

  it('aPrimaryWithoutItsLease_makesTheLocalAnswerStale', async () => {
    const h = harness({ primaries: ['n1', 'n2'] });
    h.primaryCopies.set(1, copy('primary', 20, [[E1, 1]], { lease: false }));
    const { result } = await h.prepare();
    expect(result).toEqual({ stale: true });
  });

  it('aShardThisNodeHoldsNoCopyOf_orASlowPrimary_skipsThePositionRound', async () => {
    const missing = harness({ primaries: ['n1', 'n2'], held: [true, false] });
    expect((await missing.prepare()).result).toBeNull();
    expect(missing.calls).toEqual([]);
    expect(missing.verdicts).toEqual(['ineligible']);
    const slow = harness({ primaries: ['n1', 'n2'], slow: ['n2'] });
    expect((await slow.prepare()).result).toBeNull();
    expect(slow.calls).toEqual([]);
  });

  it('replicaReads_askNoPosition_andLocalReadsOff_askNothing', async () => {
    const replica = harness({ primaries: ['n1', 'n2'] });
    expect((await replica.prepare(true)).result).toEqual({ stale: false });
    expect(replica.calls).toEqual([]);
    const off = harness({ primaries: ['n1', 'n2'], settings: { localReads: false } });
    expect((await off.prepare()).result).toBeNull();
    expect(off.calls).toEqual([]);
  });
});
