// The history checkers that judge writes: lost, under-replicated, stale and stable latency,
// and checkHistory, which runs every checker and folds the verdicts into one report.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareClocks, dominatesOrEquals, mergeClocks } from '../../cluster/check/causality.js';
import { checkHistory } from '../../cluster/check/checkHistory.js';
import { History, type FinalState, type HistoryOp, type VectorClock } from '../../cluster/check/history.js';
import { checkLostWrites } from '../../cluster/check/lostWrites.js';
import { checkStaleReads } from '../../cluster/check/staleReads.js';
import { checkUnderReplication } from '../../cluster/check/underReplication.js';
import { finalEverywhere, NODES, read, remove, SPACE, validRun, write } from './historyFixtures.js';

describe('causality', () => {
  it('dominatesOrEquals_treatsAMissingCounterAsZero', () => {
    expect(dominatesOrEquals({ n1: 2, n2: 1 }, { n1: 2 })).toBe(true);
    expect(dominatesOrEquals({ n1: 2 }, { n1: 2, n2: 0 })).toBe(true);
    expect(dominatesOrEquals({ n1: 2 }, { n2: 1 })).toBe(false);
    expect(compareClocks({ n1: 1 }, { n2: 1 })).toBe('CONCURRENT');
    expect(mergeClocks({ n1: 3, n2: 1 }, { n2: 4 })).toEqual({ n1: 3, n2: 4 });
  });
});

describe('checkLostWrites', () => {
  it('lost_whenEveryFinalReadDominatesTheWrite_reportsNothing', () => {
    const ops = [write(0, 'v1', { n1: 1 }), write(1, 'v2', { n1: 1, n2: 1 })];
    expect(checkLostWrites(ops, finalEverywhere('m1', 'v2', { n1: 1, n2: 1 })).lost.count).toBe(0);
  });

  it('lost_whenAnAcknowledgedWriteIsMissingFromOneFinalRead_isReported', () => {
    const ops = [write(0, 'v1', { n1: 1 }), write(1, 'v2', { n1: 2 })];
    const finals = finalEverywhere('m1', 'v2', { n1: 2 });
    finals[1] = { ...finals[1]!, value: 'v1', version: { n1: 1 } };
    const { lost } = checkLostWrites(ops, finals);
    expect(lost.count).toBe(1);
    expect(lost.examples).toEqual([1]);
  });

  it('lost_whenTheFinalVersionIsConcurrentWithTheWrite_isReported', () => {
    // Last-writer-wins between two sides of a partition keeps one and drops the other.
    const ops = [write(0, 'left', { n1: 1 }, { consistency: 'ONE' }), write(1, 'right', { n2: 1 }, { node: 'n2', consistency: 'ONE' })];
    expect(checkLostWrites(ops, finalEverywhere('m1', 'right', { n2: 1 })).lost.examples).toEqual([0]);
  });

  it('lost_whenANodeHasNoFinalReadOfTheMemory_isReported', () => {
    const ops = [write(0, 'v1', { n1: 1 }), write(1, 'w1', { n1: 1 }, { memoryId: 'm2' })];
    const finals = [...finalEverywhere('m1', 'v1', { n1: 1 }), ...finalEverywhere('m2', 'w1', { n1: 1 }).slice(1)];
    expect(checkLostWrites(ops, finals).lost.examples).toEqual([1]);
  });

  it('lost_whenThereAreNoFinalReadsAtAll_reportsEveryAcknowledgedWrite', () => {
    expect(checkLostWrites([write(0, 'v1', { n1: 1 })], []).lost.count).toBe(1);
  });

  it('lost_whenTheMemoryIsAbsentAfterAnAcknowledgedDeleteThatFollowsTheWrite_isNotReported', () => {
    const ops = [write(0, 'v1', { n1: 1 }), remove(1, { n1: 2 })];
    expect(checkLostWrites(ops, finalEverywhere('m1', null, null)).lost.count).toBe(0);
  });

  it('lost_whenTheMemoryIsAbsentAfterAConcurrentDelete_isReported', () => {
    const ops = [write(0, 'v1', { n1: 1 }), remove(1, { n2: 1 }, { node: 'n2' })];
    expect(checkLostWrites(ops, finalEverywhere('m1', null, null)).lost.count).toBe(1);
  });

  it('lost_whenTheDeleteHasNoVersion_fallsBackToRealTimeOrder', () => {
    const after = [write(0, 'v1', { n1: 1 }), remove(1, null, { invokeMs: 50 })];
    const before = [write(0, 'v1', { n1: 1 }), remove(1, null, { invokeMs: 5 })];
    expect(checkLostWrites(after, finalEverywhere('m1', null, null)).lost.count).toBe(0);
    expect(checkLostWrites(before, finalEverywhere('m1', null, null)).lost.count).toBe(1);
  });

  it('lost_whenEveryCopyWasDestroyed_isExcludedAndCounted', () => {
    const ops = [write(0, 'v1', { n1: 1 }), write(1, 'w1', { n1: 1 }, { memoryId: 'm2' })];
    const result = checkLostWrites(ops, [], { destroyedMemoryIds: new Set(['m1']), destroyedWriteOpIds: new Set([1]) });
    expect(result).toMatchObject({ lost: { count: 0 }, excludedDestroyed: 2 });
  });

  it('lost_forFailedAndIndeterminateWrites_isNeverReported', () => {
    const ops = [write(0, 'v1', null, { outcome: 'fail' }), write(1, 'v2', null, { outcome: 'info' })];
    expect(checkLostWrites(ops, []).lost.count).toBe(0);
  });

  it('lost_whenAFinalReadHoldsAMergedClockOfEveryWrite_isNeverReported', () => {
    const write_ = fc.record({
      memoryId: fc.constantFrom('m1', 'm2', 'm3'),
      version: fc.dictionary(fc.constantFrom(...NODES), fc.nat(20), { minKeys: 1 }),
      outcome: fc.constantFrom('ok', 'ok', 'fail', 'info'),
      consistency: fc.constantFrom('ONE', 'QUORUM', 'ALL'),
    });
    fc.assert(
      fc.property(fc.array(write_, { maxLength: 40 }), (drawn) => {
        const ops = drawn.map(({ version, outcome, ...fields }, opId) =>
          write(opId, `token-${opId}`, outcome === 'ok' ? version : null, { ...fields, outcome } as Partial<HistoryOp>),
        );
        const merged = new Map<string, VectorClock>();
        for (const op of ops) merged.set(op.memoryId, mergeClocks(merged.get(op.memoryId) ?? {}, op.version ?? {}));
        const finals = [...merged].flatMap(([memoryId, clock]) => finalEverywhere(memoryId, 'whatever', clock));
        expect(checkLostWrites(ops, finals).lost.count).toBe(0);
      }),
    );
  });

  it('lost_whenOneNodesFinalClockFallsBelowAnAcknowledgedWrite_isAlwaysReported', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...NODES), fc.integer({ min: 1, max: 20 }), { minKeys: 1 }), fc.constantFrom(...NODES), (version, lagging) => {
        const finals = finalEverywhere('m1', 'v1', version);
        const [behind] = Object.keys(version);
        const lower = { ...version, [behind!]: version[behind!]! - 1 };
        const index = finals.findIndex((final) => final.node === lagging);
        finals[index] = { ...finals[index]!, version: lower };
        expect(checkLostWrites([write(0, 'v1', version)], finals).lost.count).toBe(1);
      }),
    );
  });
});

describe('checkUnderReplication', () => {
  it('underReplicated_whenEveryPromiseWasKept_reportsNothing', () => {
    const ops = [write(0, 'v1', { n1: 1 }, { consistency: 'QUORUM', copiesAtAck: 3, promisedCopies: 2 })];
    expect(checkUnderReplication(ops)).toMatchObject({ underReplicated: { count: 0 }, unchecked: 0 });
  });

  it('underReplicated_whenAQuorumWriteWasAcknowledgedWithOneCopy_isReported', () => {
    const ops = [
      write(0, 'v1', { n1: 1 }, { consistency: 'QUORUM', copiesAtAck: 1, promisedCopies: 2 }),
      remove(1, { n1: 2 }, { consistency: 'ALL', copiesAtAck: 2, promisedCopies: 3 }),
      write(2, 'v2', { n1: 3 }, { consistency: 'ONE', copiesAtAck: 1, promisedCopies: 3 }),
      write(3, 'v3', null, { consistency: 'ALL', copiesAtAck: 0, promisedCopies: 3, outcome: 'fail' }),
    ];
    expect(checkUnderReplication(ops).underReplicated.examples).toEqual([0, 1]);
  });

  it('underReplicated_whenCopyCountsWereNotRecorded_countsTheWriteAsUnchecked', () => {
    const ops = [write(0, 'v1', { n1: 1 }, { consistency: 'ALL' })];
    expect(checkUnderReplication(ops)).toMatchObject({ underReplicated: { count: 0 }, unchecked: 1 });
  });
});

describe('checkStaleReads', () => {
  it('stale_whenEveryReadSeesTheWritesAcknowledgedBeforeIt_reportsNothing', () => {
    const ops = [write(0, 'v1', { n1: 1 }), read(1, 'v1', { n1: 1 }), write(2, 'v2', { n1: 2 }), read(3, 'v2', { n1: 2 })];
    const result = checkStaleReads(ops);
    expect(result).toMatchObject({ stale: { count: 0 }, stableLatency: { p50: 0, max: 0 }, stableShare: 1, passed: true });
  });

  it('stale_whenAReadIsConcurrentWithTheWrite_isNotStale', () => {
    const ops = [write(0, 'v1', { n1: 1 }, { completeMs: 50 }), read(1, null, null, { invokeMs: 40 })];
    expect(checkStaleReads(ops).stale.count).toBe(0);
  });

  it('stale_whenAReadMissesAnAcknowledgedWrite_isCountedAndDelaysStability', () => {
    const ops = [
      write(0, 'v1', { n1: 1 }, { invokeMs: 0, completeMs: 10 }),
      read(1, null, null, { invokeMs: 110, node: 'n2' }),
      read(2, null, null, { invokeMs: 1010, node: 'n3' }),
      read(3, 'v1', { n1: 1 }, { invokeMs: 2000, node: 'n3' }),
    ];
    const result = checkStaleReads(ops);
    expect(result.stale).toMatchObject({ count: 2, examples: [1, 2] });
    expect(result.stableLatency).toEqual({ p50: 1000, p95: 1000, p99: 1000, max: 1000 });
  });

  it('stale_whenTheMemoryIsAbsentAfterAFollowingDelete_isNotStale', () => {
    const ops = [write(0, 'v1', { n1: 1 }), remove(1, { n1: 2 }), read(2, null, { n1: 2 }), read(3, null, null)];
    expect(checkStaleReads(ops).stale.count).toBe(0);
  });

  it('stale_whenTooFewWritesBecomeStableInTime_fails', () => {
    const ops = [write(0, 'v1', { n1: 1 }, { completeMs: 10 }), write(1, 'w1', { n1: 1 }, { memoryId: 'm2', completeMs: 110 }), read(2, null, null, { invokeMs: 6010 })];
    const result = checkStaleReads(ops);
    expect(result).toMatchObject({ stableShare: 0.5, passed: false, unstable: { examples: [0] } });
    expect(checkStaleReads(ops, { stableFraction: 0.5 }).passed).toBe(true);
    expect(checkStaleReads(ops, { stableWithinMs: 6000 }).passed).toBe(true);
  });

  it('stale_whenThePredicateExcludesReadsInsideThePartition_ignoresThem', () => {
    const healedAtMs = 8000;
    const ops = [write(0, 'v1', { n1: 1 }, { completeMs: 10 }), read(1, null, null, { invokeMs: 7000 }), read(2, 'v1', { n1: 1 }, { invokeMs: 8100 })];
    const result = checkStaleReads(ops, { countsRead: (op) => op.invokeMs >= healedAtMs });
    expect(result).toMatchObject({ stale: { count: 0 }, passed: true });
    expect(checkStaleReads(ops).passed).toBe(false);
  });
});

describe('checkHistory', () => {
  it('checkHistory_whenTheRunIsValid_reportsNoViolations', () => {
    const { ops, final } = validRun();
    const report = checkHistory({ ops, droppedOps: 0 }, final);
    expect(report.violations).toEqual([]);
    expect(report).toMatchObject({ ops: 7, acked: 3, lost: 0, underReplicated: 0, stale: 0, neverRead: 0, duplicated: 0, phantoms: 0 });
    expect(report).toMatchObject({ divergentShards: 0, maxPrimariesPerEpoch: 1, convergenceMs: 1000, stableShare: 1 });
  });

  it('checkHistory_whenEveryCheckIsBroken_listsEveryViolation', () => {
    const { ops, final } = validRun();
    ops[0] = { ...ops[0]!, copiesAtAck: 1 };
    ops.push(read(7, 'invented', { n1: 9 }, { invokeMs: 20_000 }), read(8, null, null, { invokeMs: 20_000 }));
    const broken: FinalState = {
      finalReads: [...final.finalReads.slice(1), final.finalReads[0]!, { ...final.finalReads[0]!, version: { n1: 1 } }],
      copies: [...final.copies.slice(1), { ...final.copies[0]!, records: {} }],
      primaryClaims: [...final.primaryClaims, { ...final.primaryClaims[0]!, node: 'n2' }],
      convergedAtMs: null,
      healedAtMs: 5000,
    };
    const report = checkHistory({ ops, droppedOps: 3 }, broken);
    const expected = ['truncated', 'lost', 'fewer copies', 'more than once', 'no write attempted', 'primary in one epoch', 'copies that differ', 'never converged', 'became stable'];
    expect(report.violations).toHaveLength(expected.length);
    expected.forEach((phrase, index) => expect(report.violations[index]).toContain(phrase));
    expect(report.violations[1]).toContain('e.g. ops 2');
  });

  it('checkHistory_whenConvergenceTakesLongerThanTheDeadline_reportsIt', () => {
    const { ops, final } = validRun();
    const report = checkHistory({ ops, droppedOps: 0 }, { ...final, convergedAtMs: 70_000 });
    expect(report.convergenceMs).toBe(65_000);
    expect(report.violations).toEqual(['the copies converged 65000 ms after the heal, later than 60000 ms']);
  });

  it('checkHistory_whenThousandsOffend_keepsAtMostFiveExamplesPerCategory', () => {
    const ops = Array.from({ length: 2000 }, (_, opId) => write(opId, `t${opId}`, { n1: opId + 1 }, { memoryId: `m${opId}` }));
    const final: FinalState = { finalReads: [], copies: [], primaryClaims: [], convergedAtMs: 0, healedAtMs: 0 };
    const report = checkHistory({ ops, droppedOps: 0 }, final);
    expect(report.lost).toBe(2000);
    expect(report.neverRead).toBe(2000);
    expect(report.examples.lost).toEqual([0, 1, 2, 3, 4]);
    expect(report.examples.neverRead).toHaveLength(5);
  });

  it('checkHistory_onARecordedHistory_acceptsTheHistoryItself', () => {
    const history = new History();
    const opId = history.invoke({ process: 'p0', op: 'write', space: SPACE, memoryId: 'm1', node: 'n1', invokeMs: 0, value: 'v1' });
    history.complete(opId, 'ok', { completeMs: 5, version: { n1: 1 } });
    const { final } = validRun();
    const report = checkHistory(history, { ...final, finalReads: finalEverywhere('m1', 'v1', { n1: 1 }), copies: [] });
    expect(report).toMatchObject({ acked: 1, lost: 0, violations: [] });
  });
});
