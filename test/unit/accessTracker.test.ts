// The access buffer: coalescing, draining and its bound.
import { describe, expect, it } from 'vitest';
import { AccessTracker } from '../../src/engine/accessTracker.js';

describe('AccessTracker', () => {
  it('record_coalescesAccessesToOneMemory_keepingTheLatestTime', () => {
    const tracker = new AccessTracker(10);
    tracker.record('space', ['a', 'b'], 100);
    tracker.record('space', ['a'], 300);
    tracker.record('space', ['a'], 200);
    const taken = tracker.take();
    expect(taken.get('space')?.get('a')).toEqual({ count: 3, atMs: 300 });
    expect(taken.get('space')?.get('b')).toEqual({ count: 1, atMs: 100 });
  });

  it('take_emptiesTheBuffer', () => {
    const tracker = new AccessTracker(10);
    tracker.record('space', ['a'], 1);
    tracker.take();
    expect(tracker.take().size).toBe(0);
  });

  it('record_beyondTheBound_dropsNewMemoriesAndCountsThem_butStillCountsKnownOnes', () => {
    const tracker = new AccessTracker(2);
    tracker.record('one', ['a'], 1);
    tracker.record('two', ['b', 'c', 'd'], 1);
    tracker.record('one', ['a'], 2);
    expect(tracker.dropped).toBe(2);
    const taken = tracker.take();
    expect(taken.get('one')?.get('a')?.count).toBe(2);
    expect([...(taken.get('two')?.keys() ?? [])]).toEqual(['b']);
    // The bound applies again after a take.
    tracker.record('two', ['x', 'y'], 3);
    expect(tracker.take().get('two')?.size).toBe(2);
  });
});
