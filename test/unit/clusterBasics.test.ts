// Small building blocks of the cluster layer: subjects, the event agenda and seeded randomness.
import { describe, expect, it } from 'vitest';
import { EventQueue } from '../../cluster/sim/eventQueue.js';
import { SeededRandom } from '../../cluster/sim/random.js';
import { broadcastSubject, nodeSubject, services } from '../../cluster/transport/subjects.js';

describe('subjects', () => {
  it('subjects_startWithTheClusterName', () => {
    expect(nodeSubject('engram', services.membership, 'node-1')).toBe('engram.swim.node-1');
    expect(broadcastSubject('prod_eu', services.discovery)).toBe('prod_eu.join');
  });

  it('subjects_rejectTokensThatWouldChangeTheSubjectShape', () => {
    expect(() => nodeSubject('engram', services.rpc, 'a.b')).toThrow(RangeError);
    expect(() => broadcastSubject('en gram', services.rpc)).toThrow(RangeError);
    expect(() => nodeSubject('engram', services.rpc, '>')).toThrow(RangeError);
  });
});

describe('EventQueue', () => {
  it('pop_returnsEventsByTime_andByInsertionOrderWithinATime', () => {
    const queue = new EventQueue();
    const order: string[] = [];
    for (const [at, name] of [[5, 'e1'], [1, 'a'], [5, 'e2'], [3, 'c'], [5, 'e3'], [0, 'z']] as const) queue.push(at, () => order.push(name));
    while (queue.size > 0) queue.pop()!.run();
    expect(order).toEqual(['z', 'a', 'c', 'e1', 'e2', 'e3']);
  });
});

describe('SeededRandom', () => {
  it('sameSeed_sameSequence_andForksAreIndependentOfEachOther', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    expect(Array.from({ length: 5 }, () => a.next())).toEqual(Array.from({ length: 5 }, () => b.next()));
    const root = new SeededRandom(42);
    const first = root.fork('links').next();
    root.fork('other').next();
    expect(new SeededRandom(42).fork('links').next()).toBe(first);
    expect(root.fork('links').next()).toBe(first);
    expect(root.fork('x').next()).not.toBe(root.fork('y').next());
  });

  it('chance_matchesItsProbability', () => {
    const random = new SeededRandom(1);
    let hits = 0;
    for (let i = 0; i < 20_000; i++) if (random.chance(0.25)) hits++;
    expect(hits / 20_000).toBeGreaterThan(0.23);
    expect(hits / 20_000).toBeLessThan(0.27);
    expect(random.chance(0)).toBe(false);
  });
});
