// The partial-result checker (cluster/check/partialReads.ts): a valid recall passes, and each
// rule of docs/query.md, broken one at a time, is reported with its reason.

import { describe, expect, it } from 'vitest';
import type { HistoryOp, RecallObservation } from '../../cluster/check/history.js';
import { History } from '../../cluster/check/history.js';
import { checkPartialReads } from '../../cluster/check/partialReads.js';
import { shardOf } from '../../src/engine/memorySpace.js';
import { write } from './historyFixtures.js';

const SHARDS = 3;

/** The first id of the form m<N> that lands in `shard`. */
function idIn(shard: number, skip = 0): string {
  let found = 0;
  for (let n = 0; ; n++) {
    if (shardOf(`m${n}`, SHARDS) === shard && found++ === skip) return `m${n}`;
  }
}

const interval = (point: number) => ({ point, lower: point * 0.8, upper: Math.min(1, point * 1.1) });

/** A recall that missed shard 2 of 3 while partitioned, with its penalties applied as specified. */
function partialRecall(): RecallObservation {
  const memories = [
    { id: idIn(0), confidence: interval(0.8 * 0.75) },
    { id: idIn(1), confidence: interval(0.6 * 0.75) },
  ];
  const penalty = Math.min(1 / 3 + 0.1, 0.5);
  const mean = (pick: (i: { point: number; lower: number; upper: number }) => number) => ((pick(memories[0]!.confidence) + pick(memories[1]!.confidence)) / 2) * (1 - penalty);
  return {
    mode: 'SIMILARITY',
    shards: SHARDS,
    partial: true,
    missingShards: [2],
    shardsAsked: 3,
    shardsAnswered: 2,
    missingPenalty: penalty,
    partitionState: 'PARTITIONED',
    partitionFactor: 0.75,
    partitioned: true,
    reachableFraction: 0.5,
    confidence: { point: mean((i) => i.point), lower: mean((i) => i.lower), upper: mean((i) => i.upper) },
    memories,
  };
}

function recallOp(opId: number, recall: RecallObservation, fields: Partial<HistoryOp> = {}): HistoryOp {
  return { opId, process: 'p0', op: 'recall', space: 's', memoryId: '', value: null, version: null, node: 'n1', invokeMs: opId * 100, completeMs: opId * 100 + 10, outcome: 'ok', recall, ...fields };
}

function offences(ops: HistoryOp[], options = {}): readonly string[] {
  return checkPartialReads(ops, options).offences.examples;
}

describe('checkPartialReads', () => {
  it('aPartialRecallWithTheSpecifiedPenalties_passes', () => {
    const report = checkPartialReads([recallOp(1, partialRecall())]);
    expect(report.offences.count).toBe(0);
    expect(report.recalls).toBe(1);
    expect(report.partial).toBe(1);
  });

  it('aMissingShardNotMarkedPartial_isReported', () => {
    expect(offences([recallOp(1, { ...partialRecall(), partial: false })])[0]).toMatch(/not marked partial/);
  });

  it('coverageThatDoesNotAddUp_isReported', () => {
    expect(offences([recallOp(1, { ...partialRecall(), shardsAnswered: 3 })])[0]).toMatch(/answered 3 of 3 with 1 missing/);
    expect(offences([recallOp(1, { ...partialRecall(), shardsAsked: 2 })])[0]).toMatch(/asked 2 shards of a space with 3/);
    expect(offences([recallOp(1, { ...partialRecall(), missingShards: [3], memories: [] })])[0]).toMatch(/not distinct shards/);
  });

  it('aMemoryFromAMissingShard_isReportedInOneRound_butNotInARecallOfRounds', () => {
    const recall = partialRecall();
    const fromMissing = { ...recall, memories: [{ id: idIn(2), confidence: recall.memories[0]!.confidence }, recall.memories[1]!] };
    expect(offences([recallOp(1, fromMissing)])[0]).toMatch(/which it calls missing/);
    expect(offences([recallOp(1, { ...fromMissing, mode: 'HYBRID' })])).toEqual([]);
  });

  it('aMemoryReturnedTwice_isReported', () => {
    const recall = partialRecall();
    expect(offences([recallOp(1, { ...recall, memories: [recall.memories[0]!, recall.memories[0]!] })])[0]).toMatch(/returned twice/);
  });

  it('aPenaltyThatForgetsThePartitionOrTheCap_isReported', () => {
    const recall = partialRecall();
    expect(offences([recallOp(1, { ...recall, missingPenalty: 1 / 3 })])[0]).toMatch(/missing-shard penalty 0.333.*gives 0.433/);
    const twoMissing = { ...recall, missingShards: [1, 2], shardsAnswered: 1, memories: [recall.memories[0]!], missingPenalty: 0.7666 };
    expect(offences([recallOp(1, twoMissing)])[0]).toMatch(/gives 0.5/);
  });

  it('aPartitionFactorOffTheFormula_isReported', () => {
    expect(offences([recallOp(1, { ...partialRecall(), partitionFactor: 0.9 })])[0]).toMatch(/partition factor 0.9 while PARTITIONED at reachable 0.5, expected 0.75/);
    const healing = { ...partialRecall(), partitionState: 'HEALING' as const };
    expect(offences([recallOp(1, healing)])[0]).toMatch(/expected 0.9/);
  });

  it('aMemoryIntervalAboveThePartitionFactorOrOutOfOrder_isReported', () => {
    const recall = partialRecall();
    const above = { ...recall, memories: [{ id: idIn(0), confidence: { point: 0.8, lower: 0.7, upper: 0.9 } }, recall.memories[1]!] };
    expect(offences([recallOp(1, above)])[0]).toMatch(/not ordered within \[0, 0.75\]/);
  });

  it('anAnswerIntervalNotLoweredByThePenalty_isReported', () => {
    const recall = partialRecall();
    const unlowered = { ...recall, confidence: { point: recall.confidence.point / (1 - recall.missingPenalty), lower: recall.confidence.lower, upper: recall.confidence.upper } };
    expect(offences([recallOp(1, unlowered)])[0]).toMatch(/answer interval/);
  });

  it('aShardCountedAsAnsweredWhileEveryCopyWasDown_isReported', () => {
    expect(offences([recallOp(1, { ...partialRecall(), downShards: [1] })])[0]).toMatch(/shards \[1\] counted as answered while every copy was down/);
    expect(offences([recallOp(1, { ...partialRecall(), downShards: [2] })])).toEqual([]);
  });

  it('aMissingShardOrAPartitionBeforeAnyFault_isReported', () => {
    expect(offences([recallOp(1, partialRecall())], { faultsFromMs: 1000 })[0]).toMatch(/missing while no fault was on/);
    expect(offences([recallOp(1, partialRecall())], { faultsFromMs: 50 })).toEqual([]);
    expect(offences([recallOp(20, partialRecall())], { quietFromMs: 1500 })[0]).toMatch(/missing while no fault was on/);
  });

  it('aCompleteSimilarityRecallInTheQuietWindow_mustFindItsCue_unlessAnotherWriteMayHaveReplacedIt', () => {
    const cueId = idIn(1);
    const cue = write(10, 'v1', { n1: 1 }, { memoryId: cueId, space: 's', invokeMs: 1000, completeMs: 1010, consistency: 'QUORUM' });
    const whole: RecallObservation = { ...partialRecall(), partial: false, missingShards: [], shardsAnswered: 3, missingPenalty: 0, partitionState: 'CONNECTED', partitionFactor: 1, partitioned: false, reachableFraction: 1, memories: [], confidence: { point: 0, lower: 0, upper: 0 }, cueWriteOpId: 10 };
    const recall = recallOp(20, whole, { memoryId: cueId, invokeMs: 2100, completeMs: 2110 });
    const report = checkPartialReads([cue, recall], { quietFromMs: 500 });
    expect(report.completenessJudged).toBe(1);
    expect(report.offences.examples[0]).toMatch(new RegExp(`did not find memory ${cueId}`));
    const found = recallOp(20, { ...whole, memories: [{ id: cueId, confidence: interval(0.5) }], confidence: interval(0.5) }, { memoryId: cueId, invokeMs: 2100, completeMs: 2110 });
    expect(offences([cue, found], { quietFromMs: 500 })).toEqual([]);
    const later = write(15, 'v2', null, { memoryId: cueId, space: 's', invokeMs: 1500, completeMs: 4000, outcome: 'info' });
    expect(offences([cue, later, recall], { quietFromMs: 500 })).toEqual([]);
    // Before the quiet window the cue may be hidden behind a partition: not judged.
    expect(offences([cue, recall], { quietFromMs: 1500 })).toEqual([]);
    // Within the lag bound a current replica may lack a QUORUM write, never an ALL write.
    expect(offences([cue, recall], { quietFromMs: 500, replicaLagMs: 1500 })).toEqual([]);
    expect(offences([{ ...cue, consistency: 'ALL' }, recall], { quietFromMs: 500, replicaLagMs: 1500 })[0]).toMatch(/did not find memory/);
  });

  it('aRecallOpRoundTripsThroughJsonl_andAMalformedObservationIsRefused', () => {
    const history = new History();
    const opId = history.invoke({ process: 'p0', op: 'recall', space: 's', memoryId: 'm1', node: 'n1', invokeMs: 1 });
    history.complete(opId, 'ok', { completeMs: 5, recall: { ...partialRecall(), cueWriteOpId: 3, downShards: [2] } });
    expect(History.fromJsonl(history.toJsonl()).ops).toEqual(history.ops);
    const broken = history.toJsonl().replace('"missingPenalty":', '"missingPenaltyX":');
    expect(() => History.fromJsonl(broken)).toThrow(/field "recall" must be a recall observation/);
  });
});
