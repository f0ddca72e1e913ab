// The history checkers that judge what was observed and what was left: never-read writes,
// duplicated and phantom reads, convergence of the copies, primaries per epoch, and the
// latency summary and example bound they report with.
import { describe, expect, it } from 'vitest';
import { checkConvergence } from '../../cluster/check/convergence.js';
import { checkDuplicates } from '../../cluster/check/duplicates.js';
import type { CopyState, PrimaryClaim } from '../../cluster/check/history.js';
import { summariseLatencies } from '../../cluster/check/latencySummary.js';
import { checkNeverRead } from '../../cluster/check/neverRead.js';
import { checkPhantoms } from '../../cluster/check/phantoms.js';
import { checkPrimaries } from '../../cluster/check/primaries.js';
import { MAX_EXAMPLES_PER_CATEGORY, Tally } from '../../cluster/check/tally.js';
import { copiesEverywhere, finalEverywhere, read, SPACE, validRun, write } from './historyFixtures.js';

describe('checkNeverRead', () => {
  it('neverRead_whenEveryWriteWasSeenDuringTheRunOrAtTheEnd_reportsNothing', () => {
    const { ops, final } = validRun();
    expect(checkNeverRead(ops, final.finalReads).count).toBe(0);
  });

  it('neverRead_whenAWriteWasOverwrittenBeforeAnyRead_isReported', () => {
    const ops = [write(0, 'v1', { n1: 1 }), write(1, 'v2', { n1: 2 }), write(2, 'v3', null, { outcome: 'fail' })];
    expect(checkNeverRead(ops, finalEverywhere('m1', 'v2', { n1: 2 })).examples).toEqual([0]);
  });

  it('neverRead_countsOnlySuccessfulReads', () => {
    const ops = [write(0, 'v1', { n1: 1 }), read(1, 'v1', { n1: 1 }, { outcome: 'info' })];
    expect(checkNeverRead(ops, []).count).toBe(1);
  });
});

describe('checkDuplicates', () => {
  it('duplicated_whenEachNodeReadsEachMemoryOnce_reportsNothing', () => {
    expect(checkDuplicates(validRun().final.finalReads).count).toBe(0);
  });

  it('duplicated_whenOneNodeReturnsAMemoryTwice_isReported', () => {
    const finals = [...finalEverywhere('m1', 'v1', { n1: 1 }), { node: 'n2', space: SPACE, memoryId: 'm1', value: 'v1', version: { n1: 1 } }];
    expect(checkDuplicates(finals).examples).toEqual([{ node: 'n2', space: SPACE, memoryId: 'm1' }]);
  });

  it('duplicated_whenTheSameIdLivesInTwoSpaces_isNotADuplicate', () => {
    const finals = [...finalEverywhere('m1', 'v1', { n1: 1 }), ...finalEverywhere('m1', 'v1', { n1: 1 }).map((read_) => ({ ...read_, space: 'other' }))];
    expect(checkDuplicates(finals).count).toBe(0);
  });
});

describe('checkPhantoms', () => {
  it('phantom_whenEveryReadValueWasAttempted_reportsNothing', () => {
    const ops = [write(0, 'ok', { n1: 1 }), write(1, 'failed', null, { outcome: 'fail' }), write(2, 'timedOut', null, { outcome: 'info' })];
    const reads = [read(3, 'ok', { n1: 1 }), read(4, 'failed', { n1: 2 }), read(5, null, null)];
    const finals = finalEverywhere('m1', 'timedOut', { n1: 3 });
    expect(checkPhantoms([...ops, ...reads], finals).count).toBe(0);
  });

  it('phantom_whenAReadReturnsAValueNoWriteAttempted_isReported', () => {
    const ops = [write(0, 'v1', { n1: 1 }), read(1, 'invented', { n1: 1 })];
    const finals = [...finalEverywhere('m1', 'v1', { n1: 1 }), { node: 'n1', space: SPACE, memoryId: 'm2', value: 'v1', version: { n1: 1 } }];
    const phantoms = checkPhantoms(ops, finals);
    expect(phantoms.count).toBe(2);
    expect(phantoms.reads.examples).toEqual([1]);
    // A token written to m1 and read back under m2 was not written there.
    expect(phantoms.finalReads.examples).toEqual([{ node: 'n1', space: SPACE, memoryId: 'm2' }]);
  });
});

describe('checkConvergence', () => {
  const records = { m1: { value: 'v1', version: { n1: 1 } }, m2: { value: null, version: { n1: 2 } } };

  it('convergence_whenEveryCopyAgreesSoonAfterTheHeal_passes', () => {
    const result = checkConvergence(copiesEverywhere(records), 9000, 5000);
    expect(result).toEqual({ divergentShards: [], convergenceMs: 4000, withinDeadline: true, passed: true });
  });

  it('convergence_whenOneCopyLacksATombstone_reportsTheShard', () => {
    const copies = copiesEverywhere(records);
    delete copies[2]!.records['m2'];
    expect(checkConvergence(copies, 9000, 5000)).toMatchObject({ divergentShards: [{ space: SPACE, shard: 0, memoryId: 'm2' }], passed: false });
  });

  it('convergence_whenCopiesHoldTheSameValueUnderDifferentVersions_reportsTheShard', () => {
    const copies = copiesEverywhere(records);
    copies[0]!.records['m1'] = { value: 'v1', version: { n1: 1, n2: 1 } };
    expect(checkConvergence(copies, 9000, 5000).divergentShards).toEqual([{ space: SPACE, shard: 0, memoryId: 'm1' }]);
  });

  it('convergence_whenCopiesHoldDifferentValues_reportsOnlyThatShard', () => {
    const otherShard: CopyState[] = copiesEverywhere(records).map((copy) => ({ ...copy, shard: 1 }));
    otherShard[1]!.records['m1'] = { value: 'v9', version: { n1: 1 } };
    const result = checkConvergence([...copiesEverywhere(records), ...otherShard], 9000, 5000);
    expect(result.divergentShards).toEqual([{ space: SPACE, shard: 1, memoryId: 'm1' }]);
  });

  it('convergence_whenItNeverHappensOrComesTooLate_fails', () => {
    expect(checkConvergence(copiesEverywhere(records), null, 5000)).toMatchObject({ convergenceMs: null, passed: false });
    expect(checkConvergence(copiesEverywhere(records), 65_001, 5000)).toMatchObject({ convergenceMs: 60_001, passed: false });
    expect(checkConvergence(copiesEverywhere(records), 65_001, 5000, 120_000).passed).toBe(true);
  });

  it('convergence_whenAgreementCameBeforeTheHeal_countsZero', () => {
    expect(checkConvergence(copiesEverywhere(records), 4000, 5000).convergenceMs).toBe(0);
  });
});

describe('checkPrimaries', () => {
  const claim = (node: string, epochTerm: number, epochNode: string, shard = 0): PrimaryClaim => ({ space: SPACE, shard, epochTerm, epochNode, node, atMs: 0 });

  it('primaries_whenEachEpochHasOneClaimant_reportsOne', () => {
    const claims = [claim('n1', 1, 'n1'), claim('n1', 1, 'n1'), claim('n2', 2, 'n2'), claim('n3', 2, 'n3'), claim('n2', 1, 'n2', 1)];
    expect(checkPrimaries(claims)).toMatchObject({ maxPrimariesPerEpoch: 1, splitEpochs: { count: 0 } });
  });

  it('primaries_whenTwoNodesClaimTheSameEpoch_reportsSplitBrain', () => {
    const result = checkPrimaries([claim('n1', 3, 'n1'), claim('n3', 3, 'n1'), claim('n2', 3, 'n1')]);
    expect(result.maxPrimariesPerEpoch).toBe(3);
    expect(result.splitEpochs.examples).toEqual([{ space: SPACE, shard: 0, epochTerm: 3, epochNode: 'n1', nodes: ['n1', 'n2', 'n3'] }]);
  });

  it('primaries_withNoClaims_reportsZero', () => {
    expect(checkPrimaries([]).maxPrimariesPerEpoch).toBe(0);
  });
});

describe('summariseLatencies', () => {
  it('summariseLatencies_usesNearestRank_soEveryFigureWasObserved', () => {
    const latencies = Array.from({ length: 100 }, (_, index) => index + 1);
    expect(summariseLatencies(latencies)).toEqual({ p50: 50, p95: 95, p99: 99, max: 100 });
    expect(summariseLatencies([7])).toEqual({ p50: 7, p95: 7, p99: 7, max: 7 });
    expect(summariseLatencies([])).toEqual({ p50: 0, p95: 0, p99: 0, max: 0 });
  });
});

describe('Tally', () => {
  it('add_beyondTheExampleBound_keepsCountingButNotKeeping', () => {
    const tally = new Tally<number>();
    for (let index = 0; index < 12; index++) tally.add(index);
    expect(tally.count).toBe(12);
    expect(tally.examples).toEqual(Array.from({ length: MAX_EXAMPLES_PER_CATEGORY }, (_, index) => index));
  });
});
