import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Gatherer, type FailureKind, type GatherOutcome, type ShardRoute, type SubRequest } from '../../cluster/query/gatherer.js';
import { LatencyTracker } from '../../cluster/query/latencyTracker.js';
import { defaultQuerySettings } from '../../cluster/query/querySettings.js';
import { nodeClock } from '../../cluster/sim/simNode.js';
import { SimNetwork } from '../../cluster/sim/simNetwork.js';

/** How a node behaves in a test: answers after `ms`, fails after `ms`, or never answers. */
type Behaviour = { answerMs: number } | { failMs: number; error?: unknown } | { refuseUntilMs: number; answerMs: number } | 'silent';

class Redirect extends Error {
  constructor(readonly node: string) {
    super(`try ${node}`);
  }
}

class BadInput extends Error {}

/** A live copy that cannot answer yet (no primary, not current). */
class NotYet extends Error {}

function classify(error: unknown): FailureKind {
  if (error instanceof Redirect) return { kind: 'redirect', node: error.node };
  if (error instanceof BadInput) return { kind: 'fatal' };
  if (error instanceof NotYet) return { kind: 'retry' };
  return { kind: 'next' };
}

interface Run {
  outcome: GatherOutcome<string> | undefined;
  error: unknown;
  finishedAtMs: number | undefined;
  calls: SubRequest[];
}

async function gather(routes: ShardRoute[], behaviour: Record<string, Behaviour>, options: { deadlineMs?: number; noHedge?: boolean; tracker?: LatencyTracker; retry?: { firstBackoffMs: number; maxRounds: number } } = {}): Promise<Run> {
  const network = new SimNetwork({ seed: 1 });
  const clock = nodeClock(network, 'coordinator');
  const tracker = options.tracker ?? new LatencyTracker(defaultQuerySettings);
  const gatherer = new Gatherer(clock, tracker);
  const run: Run = { outcome: undefined, error: undefined, finishedAtMs: undefined, calls: [] };
  const call = (request: SubRequest) => {
    run.calls.push(request);
    const how = behaviour[request.node] ?? 'silent';
    return new Promise<string>((resolve, reject) => {
      if (how === 'silent') return;
      if ('refuseUntilMs' in how && network.nowMs < how.refuseUntilMs) network.at(network.nowMs + 1, () => reject(new NotYet('no primary yet')));
      else if ('answerMs' in how) network.at(network.nowMs + how.answerMs, () => resolve(`${request.node}:${request.shards.join(',')}`));
      else network.at(network.nowMs + how.failMs, () => reject(how.error ?? new Error('no responders')));
    });
  };
  gatherer
    .gather<string>(routes, { op: 'recall', deadlineMs: options.deadlineMs ?? 5000, call, classify, ...(options.noHedge === true ? { noHedge: true } : {}), ...(options.retry === undefined ? {} : { retry: options.retry }) })
    .then(
      (outcome) => {
        run.outcome = outcome;
        run.finishedAtMs = network.nowMs;
      },
      (error: unknown) => {
        run.error = error;
        run.finishedAtMs = network.nowMs;
      },
    );
  await network.runFor((options.deadlineMs ?? 5000) + 1000);
  return run;
}

const sixShardsOnThreeNodes: ShardRoute[] = [0, 1, 2, 3, 4, 5].map((shard) => ({ shard, candidates: [`n${shard % 3}`, `n${(shard + 1) % 3}`] }));

describe('Gatherer', () => {
  it('gather_whenLiveCopiesRefuseForNow_asksAgainAfterABackoff_untilOneAnswers', async () => {
    const run = await gather([{ shard: 0, candidates: ['n0', 'n1'] }], { n0: { refuseUntilMs: 60, answerMs: 2 }, n1: { refuseUntilMs: 1000, answerMs: 2 } }, { deadlineMs: 500, retry: { firstBackoffMs: 25, maxRounds: 4 } });
    expect(run.outcome!.missing).toEqual([]);
    expect(run.outcome!.answers[0]!.node).toBe('n0');
    // Rounds at about 0, 27 and 79 ms (backoffs of 25 and 50): answered in the third.
    expect(run.calls.filter((c) => c.node === 'n0')).toHaveLength(3);
    expect(run.finishedAtMs!).toBeLessThan(100);
  });

  it('gather_whenRefusalsOutlastTheRounds_reportsTheShardMissing_beforeTheDeadline', async () => {
    const run = await gather([{ shard: 0, candidates: ['n0'] }], { n0: { refuseUntilMs: 10_000, answerMs: 2 } }, { deadlineMs: 5000, retry: { firstBackoffMs: 25, maxRounds: 2 } });
    expect(run.outcome!.missing).toEqual([0]);
    expect(run.calls).toHaveLength(3);
    expect(run.finishedAtMs!).toBeLessThan(100);
  });

  it('gather_neverAsksAgainPastTheDeadline_norAfterNoResponders', async () => {
    const refusing = await gather([{ shard: 0, candidates: ['n0'] }], { n0: { refuseUntilMs: 10_000, answerMs: 2 } }, { deadlineMs: 60, retry: { firstBackoffMs: 25, maxRounds: 10 } });
    expect(refusing.outcome!.missing).toEqual([0]);
    expect(refusing.finishedAtMs!).toBeLessThanOrEqual(60);
    const dead = await gather([{ shard: 0, candidates: ['n0'] }], { n0: { failMs: 2 } }, { deadlineMs: 500, retry: { firstBackoffMs: 25, maxRounds: 4 } });
    expect(dead.calls).toHaveLength(1);
    expect(dead.finishedAtMs!).toBeLessThan(10);
  });

  it('gather_whenEveryPrimaryAnswers_sendsOneSubRequestPerNodeAndMissesNothing', async () => {
    const run = await gather(sixShardsOnThreeNodes, { n0: { answerMs: 2 }, n1: { answerMs: 3 }, n2: { answerMs: 4 } });
    expect(run.calls).toHaveLength(3);
    expect(run.outcome!.missing).toEqual([]);
    expect(run.outcome!.answers.flatMap((a) => a.shards).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(run.finishedAtMs).toBe(4);
  });

  it('gather_whenAPrimaryHasNoResponders_asksTheReplicaAtOnce', async () => {
    const run = await gather(sixShardsOnThreeNodes, { n0: { failMs: 1 }, n1: { answerMs: 3 }, n2: { answerMs: 3 } });
    expect(run.outcome!.missing).toEqual([]);
    expect(run.outcome!.fallbacks).toBe(1);
    // Shards 0 and 3 fell from n0 to n1 at 1 ms, answered 3 ms later: no call timeout waited for.
    expect(run.finishedAtMs).toBe(4);
    expect(run.outcome!.answers.find((a) => a.shards.includes(0))!.node).toBe('n1');
  });

  it('gather_whenEveryCopyOfAShardFails_reportsItMissingWithoutWaitingForTheDeadline', async () => {
    const routes: ShardRoute[] = [0, 1, 2].map((shard) => ({ shard, candidates: [`n${shard}`] }));
    const run = await gather(routes, { n0: { answerMs: 2 }, n1: { failMs: 1 }, n2: { answerMs: 2 } });
    expect(run.outcome!.missing).toEqual([1]);
    expect(run.finishedAtMs).toBe(2);
  });

  it('gather_whenACopyIsSilent_reportsItMissingAtTheDeadline', async () => {
    const routes: ShardRoute[] = [0, 1].map((shard) => ({ shard, candidates: [`n${shard}`] }));
    const run = await gather(routes, { n0: { answerMs: 2 }, n1: 'silent' }, { deadlineMs: 5000 });
    expect(run.outcome!.missing).toEqual([1]);
    expect(run.finishedAtMs).toBe(5000);
  });

  it('gather_whenAPrimaryIsSlow_hedgesToTheReplicaAfterTheHedgeDelay', async () => {
    const run = await gather(sixShardsOnThreeNodes, { n0: { answerMs: 3000 }, n1: { answerMs: 5 }, n2: { answerMs: 5 } });
    expect(run.outcome!.missing).toEqual([]);
    expect(run.outcome!.hedges).toBe(1);
    // The initial hedge delay (50 ms), then the replica's 5 ms.
    expect(run.finishedAtMs).toBe(defaultQuerySettings.hedgeInitialMs + 5);
  });

  it('gather_whenAHedgeFailsWhileThePrimaryIsStillSlow_hedgesToTheNextCopy', async () => {
    const route: ShardRoute[] = [{ shard: 0, candidates: ['n0', 'n1', 'n2'] }];
    const run = await gather(route, { n0: 'silent', n1: { failMs: 2 }, n2: { answerMs: 5 } });
    expect(run.outcome!.missing).toEqual([]);
    expect(run.calls.map((c) => c.node)).toEqual(['n0', 'n1', 'n2']);
    expect(run.outcome!.hedges).toBe(2);
    expect(run.finishedAtMs).toBe(defaultQuerySettings.hedgeInitialMs + 2 + 5);
  });

  it('gather_withHedgingOff_waitsForTheSlowPrimary', async () => {
    const run = await gather(sixShardsOnThreeNodes, { n0: { answerMs: 300 }, n1: { answerMs: 5 }, n2: { answerMs: 5 } }, { noHedge: true });
    expect(run.outcome!.hedges).toBe(0);
    expect(run.finishedAtMs).toBe(300);
  });

  it('gather_hedgeDelay_followsTheObservedLatencyQuantile', async () => {
    const tracker = new LatencyTracker(defaultQuerySettings);
    for (let i = 0; i < 100; i++) tracker.record('recall', i < 95 ? 10 : 40);
    const run = await gather(sixShardsOnThreeNodes, { n0: { answerMs: 3000 }, n1: { answerMs: 5 }, n2: { answerMs: 5 } }, { tracker });
    expect(run.finishedAtMs).toBe(40 + 5);
  });

  it('gather_whenACopyRedirects_asksTheNodeItNames', async () => {
    const routes: ShardRoute[] = [{ shard: 0, candidates: ['old'] }];
    const run = await gather(routes, { old: { failMs: 1, error: new Redirect('new') }, new: { answerMs: 2 } });
    expect(run.outcome!.missing).toEqual([]);
    expect(run.outcome!.answers[0]!.node).toBe('new');
  });

  it('gather_whenACopyRefusesTheRequestItself_rejects', async () => {
    const run = await gather(sixShardsOnThreeNodes, { n0: { failMs: 1, error: new BadInput('bad cue') }, n1: { answerMs: 5 }, n2: { answerMs: 5 } });
    expect(run.error).toBeInstanceOf(BadInput);
  });

  it('gather_underAnyMixOfLatenciesAndFailures_answersEachShardOnceOrReportsItMissing_beforeTheDeadline', async () => {
    const behaviourArb = fc.oneof(
      fc.record({ answerMs: fc.integer({ min: 0, max: 8000 }) }),
      fc.record({ failMs: fc.integer({ min: 0, max: 8000 }) }),
      fc.constant('silent' as const),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(behaviourArb, { minLength: 4, maxLength: 4 }), fc.integer({ min: 1, max: 8 }), async (behaviours, shardCount) => {
        const nodes = ['a', 'b', 'c', 'd'];
        const routes = Array.from({ length: shardCount }, (_, shard) => ({ shard, candidates: [nodes[shard % 4]!, nodes[(shard + 1) % 4]!, nodes[(shard + 2) % 4]!] }));
        const run = await gather(routes, Object.fromEntries(nodes.map((node, i) => [node, behaviours[i]!])), { deadlineMs: 5000 });
        const won = run.outcome!.answers.flatMap((a) => a.shards);
        expect(new Set(won).size).toBe(won.length);
        expect([...won, ...run.outcome!.missing].sort((x, y) => x - y)).toEqual(routes.map((r) => r.shard));
        expect(run.finishedAtMs).toBeLessThanOrEqual(5000);
      }),
      { numRuns: 150 },
    );
  });
});

describe('classify', () => {
  it('tellsRefusalsOfLiveCopiesFromSilence_andBadInputFromBoth', async () => {
    const { classify: classifyFailure } = await import('../../cluster/query/distributedQuery.js');
    const { NotPrimaryError, RemoteError } = await import('../../cluster/routing/rpc.js');
    const { UnavailableError } = await import('../../src/errors.js');
    expect(classifyFailure(new NotPrimaryError(null, 'p1'))).toEqual({ kind: 'retry' });
    expect(classifyFailure(new NotPrimaryError('n2', 'p1'))).toEqual({ kind: 'redirect', node: 'n2' });
    expect(classifyFailure(new RemoteError('UNAVAILABLE', 'changing primaries', { retryAfterMs: 200 }))).toEqual({ kind: 'retry' });
    // A copy that expects no primary until a lost copy returns is not asked again.
    expect(classifyFailure(new RemoteError('UNAVAILABLE', 'no copy that may hold it can be reached', { retryAfterMs: 1000 }))).toEqual({ kind: 'next' });
    expect(classifyFailure(new RemoteError('UNAVAILABLE', 'no hint', {}))).toEqual({ kind: 'next' });
    expect(classifyFailure(new RemoteError('BAD_USER_INPUT', 'bad cue', {}))).toEqual({ kind: 'fatal' });
    // An open circuit is raised here, not by the copy: it says nothing of the copy being up.
    expect(classifyFailure(new UnavailableError('Calls to node n2 are paused', 100))).toEqual({ kind: 'next' });
    expect(classifyFailure(new UnavailableError('the shard is getting its primary', 50), true)).toEqual({ kind: 'retry' });
    expect(classifyFailure(new Error('no responders'))).toEqual({ kind: 'next' });
  });
});

describe('LatencyTracker', () => {
  it('hedgeDelay_followsTheTraffic_withinARefreshOfSamples', () => {
    const tracker = new LatencyTracker(defaultQuerySettings);
    expect(tracker.hedgeDelayMs('recall')).toBe(defaultQuerySettings.hedgeInitialMs);
    for (let i = 0; i < 100; i++) tracker.record('recall', 5 + (i % 10));
    expect(tracker.hedgeDelayMs('recall')).toBe(14);
    // The whole ring slows down: the delay follows within 32 samples of the change.
    for (let i = 0; i < 512; i++) tracker.record('recall', 40);
    expect(tracker.hedgeDelayMs('recall')).toBe(40);
    for (let i = 0; i < 600; i++) tracker.record('recall', 500);
    expect(tracker.hedgeDelayMs('recall')).toBe(defaultQuerySettings.hedgeMaxMs);
    expect(tracker.quantile('other', 0.5)).toBeUndefined();
  });
});

describe('planRoutes', () => {
  it('putsTheShardsPrimaryFirst_aCurrentLocalCopyFirstForReplicaReads_andSlowNodesLast', async () => {
    const { planRoutes } = await import('../../cluster/query/queryPlanner.js');
    const placement = {
      assignment: (_space: string, shard: number) => ({ primary: `n${shard % 3}`, replicas: [`n${(shard + 1) % 3}`, `n${(shard + 2) % 3}`] }),
      canRead: () => true,
    };
    expect(planRoutes('s', [0, 1], 'n2', placement as never, false).map((r) => r.candidates)).toEqual([
      ['n0', 'n1', 'n2'],
      ['n1', 'n2', 'n0'],
    ]);
    expect(planRoutes('s', [0], 'n2', placement as never, true)[0]!.candidates).toEqual(['n2', 'n0', 'n1']);
    // A stalled node keeps its place among the copies, behind every responsive one.
    expect(planRoutes('s', [0, 1], 'n2', placement as never, false, (node) => node === 'n1').map((r) => r.candidates)).toEqual([
      ['n0', 'n2', 'n1'],
      ['n2', 'n0', 'n1'],
    ]);
    expect(planRoutes('s', [0], 'n2', undefined, false)[0]!.candidates).toEqual(['n2']);
  });
});

describe('DistributedQuery', () => {
  it('aStalledPrimary_isAskedLastForSlowNodeMs_andItsReplicaIsAllowedToAnswerStale', async () => {
    const { DistributedQuery } = await import('../../cluster/query/distributedQuery.js');
    const network = new SimNetwork({ seed: 1 });
    const clock = nodeClock(network, 'n0');
    const sent: { node: string; body: Record<string, unknown> }[] = [];
    const router = {
      clock,
      callOnce: (node: string, _op: string, body: Record<string, unknown>) => {
        sent.push({ node, body });
        // n1 is stopped: it never answers. n2 answers in 2 ms.
        return new Promise((resolve) => node === 'n2' && network.at(network.nowMs + 2, () => resolve({ from: node })));
      },
    };
    const placement = { assignment: (_space: string, shard: number) => ({ shard, primary: 'n1', replicas: ['n2'] }), canRead: () => false };
    const observer = { onGathered: () => undefined, onSubRequest: () => undefined, span: <T>(_n: string, _a: unknown, work: () => Promise<T>) => work() };
    const query = new DistributedQuery(router as never, 'n0', placement as never, defaultQuerySettings, observer);
    const scatter = async () => {
      sent.length = 0;
      const done = query.scatter('s', 'recall', (shards) => ({ shards }), { shards: [0], allowReplica: false, deadlineMs: 5000, staleFallback: true });
      let outcome: GatherOutcome<unknown> | undefined;
      void done.then((o) => (outcome = o));
      const started = network.nowMs;
      while (outcome === undefined) await network.runFor(1);
      return { outcome, ms: network.nowMs - started, asked: sent.map((s) => [s.node, s.body['allowStale'] === true]) };
    };
    const first = await scatter();
    expect(first.asked).toEqual([['n1', false], ['n2', true]]);
    expect(first.ms).toBeGreaterThanOrEqual(defaultQuerySettings.hedgeInitialMs);
    await network.runFor(defaultQuerySettings.hedgeMaxMs);
    const second = await scatter();
    expect(second.asked).toEqual([['n2', true]]);
    expect(second.ms).toBeLessThan(10);
    await network.runFor(defaultQuerySettings.slowNodeMs);
    const third = await scatter();
    expect(third.asked[0]).toEqual(['n1', false]);
  });
});
