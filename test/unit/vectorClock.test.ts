import { describe, expect, it } from 'vitest';
import { compare, merge, tick } from '../../src/engine/vectorClock.js';
import type { VectorClock } from '../../src/engine/types.js';

describe('tick', () => {
  it('tick_whenNodeIsNew_startsItsCounterAtOne', () => {
    expect(tick({}, 'n1')).toEqual({ n1: 1 });
  });

  it('tick_whenNodeIsKnown_incrementsOnlyThatNode', () => {
    expect(tick({ n1: 3, n2: 5 }, 'n1')).toEqual({ n1: 4, n2: 5 });
  });

  it('tick_whenCalled_doesNotMutateItsInput', () => {
    const clock: VectorClock = { n1: 1 };
    tick(clock, 'n1');
    expect(clock).toEqual({ n1: 1 });
  });

  it('tick_whenCalled_makesTheResultAfterTheInput', () => {
    const clock: VectorClock = { n1: 2, n2: 1 };
    expect(compare(tick(clock, 'n2'), clock)).toBe('AFTER');
    expect(compare(clock, tick(clock, 'n3'))).toBe('BEFORE');
  });
});

describe('merge', () => {
  it('merge_whenClocksOverlap_takesPointwiseMaximum', () => {
    expect(merge({ a: 3, b: 1 }, { b: 4, c: 2 })).toEqual({ a: 3, b: 4, c: 2 });
  });

  it('merge_whenOrderSwapped_givesTheSameClock', () => {
    const a: VectorClock = { x: 1, y: 7 };
    const b: VectorClock = { y: 2, z: 9 };
    expect(merge(a, b)).toEqual(merge(b, a));
    expect(compare(merge(a, b), merge(b, a))).toBe('EQUAL');
  });

  it('merge_whenMergedWithItself_isUnchanged', () => {
    const a: VectorClock = { x: 1, y: 7 };
    expect(merge(a, a)).toEqual(a);
    const ab = merge(a, { z: 2 });
    expect(merge(ab, ab)).toEqual(ab);
    expect(merge(ab, a)).toEqual(ab);
  });

  it('merge_whenGroupedDifferently_isAssociative', () => {
    const a: VectorClock = { x: 1 };
    const b: VectorClock = { x: 3, y: 1 };
    const c: VectorClock = { y: 4, z: 1 };
    expect(merge(merge(a, b), c)).toEqual(merge(a, merge(b, c)));
  });

  it('merge_whenCalled_doesNotMutateInputs', () => {
    const a: VectorClock = { x: 1 };
    const b: VectorClock = { x: 2 };
    merge(a, b);
    expect(a).toEqual({ x: 1 });
    expect(b).toEqual({ x: 2 });
  });

  it('merge_whenConcurrentClocksMerged_isAfterOrEqualToBoth', () => {
    const a: VectorClock = { x: 2, y: 1 };
    const b: VectorClock = { x: 1, y: 2 };
    const m = merge(a, b);
    expect(compare(m, a)).toBe('AFTER');
    expect(compare(m, b)).toBe('AFTER');
    expect(compare(tick(m, 'x'), m)).toBe('AFTER');
  });
});

describe('compare', () => {
  it('compare_whenBothEmpty_returnsEqual', () => {
    expect(compare({}, {})).toBe('EQUAL');
  });

  it('compare_whenSameCounts_returnsEqual', () => {
    expect(compare({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe('EQUAL');
  });

  it('compare_whenMissingEntryVersusZero_treatsMissingAsZero', () => {
    expect(compare({ a: 1, b: 0 }, { a: 1 })).toBe('EQUAL');
  });

  it('compare_whenFirstDominates_returnsAfter', () => {
    expect(compare({ a: 2, b: 1 }, { a: 1, b: 1 })).toBe('AFTER');
    expect(compare({ a: 1 }, {})).toBe('AFTER');
  });

  it('compare_whenSecondDominates_returnsBefore', () => {
    expect(compare({ a: 1, b: 1 }, { a: 1, b: 2 })).toBe('BEFORE');
    expect(compare({}, { a: 1 })).toBe('BEFORE');
  });

  it('compare_whenEachIsAheadSomewhere_returnsConcurrent', () => {
    expect(compare({ a: 2, b: 1 }, { a: 1, b: 2 })).toBe('CONCURRENT');
    expect(compare({ a: 1 }, { b: 1 })).toBe('CONCURRENT');
  });

  it('compare_whenArgumentsSwapped_givesTheMirroredOrder', () => {
    const mirror = { BEFORE: 'AFTER', AFTER: 'BEFORE', EQUAL: 'EQUAL', CONCURRENT: 'CONCURRENT' } as const;
    const clocks: VectorClock[] = [{}, { a: 1 }, { a: 2 }, { b: 1 }, { a: 1, b: 1 }, { a: 2, b: 0 }];
    for (const x of clocks) for (const y of clocks) expect(compare(y, x)).toBe(mirror[compare(x, y)]);
  });
});
