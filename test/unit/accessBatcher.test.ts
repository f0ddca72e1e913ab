// Recalled ids on their way to their shards' primaries (cluster/query/accessBatcher.ts):
// ids of one window go out together, one send per space with each shard's ids once; the
// bound drops and counts what does not fit; a send that fails loses only statistics.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AccessBatcher } from '../../cluster/query/accessBatcher.js';
import { nodeClock } from '../../cluster/sim/simNode.js';
import { SimNetwork } from '../../cluster/sim/simNetwork.js';

interface Sent {
  atMs: number;
  space: string;
  byShard: Map<number, string[]>;
}

function setup(settings = { accessBatchMs: 50, accessBatchMaxIds: 100 }, fail = false) {
  const network = new SimNetwork({ seed: 1 });
  const clock = nodeClock(network, 'n1');
  const sent: Sent[] = [];
  const drops: number[] = [];
  const batcher = new AccessBatcher(
    clock,
    settings,
    async (space, byShard) => {
      sent.push({ atMs: network.nowMs, space, byShard: new Map([...byShard].map(([shard, ids]) => [shard, [...ids]])) });
      if (fail) throw new Error('no responders');
    },
    (count) => drops.push(count),
  );
  return { network, batcher, sent, drops };
}

const shardOf = (id: string) => Number(id.split('-')[1]) % 3;

describe('AccessBatcher', () => {
  it('sends the ids of one window together, each once, grouped by shard, one send per space', async () => {
    const { network, batcher, sent } = setup();
    batcher.add('s', ['m-0', 'm-1', 'm-2'], shardOf);
    await network.runFor(20);
    batcher.add('s', ['m-3', 'm-0'], shardOf);
    batcher.add('t', ['m-4'], shardOf);
    expect(sent).toEqual([]);
    await network.runFor(29);
    expect(sent).toEqual([]);
    await network.runFor(1);
    expect(sent.map((s) => [s.atMs, s.space])).toEqual([
      [50, 's'],
      [50, 't'],
    ]);
    expect(Object.fromEntries(sent[0]!.byShard)).toEqual({ 0: ['m-0', 'm-3'], 1: ['m-1'], 2: ['m-2'] });
    expect(Object.fromEntries(sent[1]!.byShard)).toEqual({ 1: ['m-4'] });
    expect(batcher.waiting).toBe(0);
    // The next window starts with the next id.
    batcher.add('s', ['m-5'], shardOf);
    await network.runFor(49);
    expect(sent).toHaveLength(2);
    await network.runFor(1);
    expect(sent).toHaveLength(3);
  });

  it('drops and counts ids past the bound, and takes new ones once the batch is sent', async () => {
    const { network, batcher, sent, drops } = setup({ accessBatchMs: 10, accessBatchMaxIds: 3 });
    batcher.add('s', ['m-0', 'm-1'], shardOf);
    batcher.add('s', ['m-1', 'm-2', 'm-3', 'm-4'], shardOf);
    expect(batcher.waiting).toBe(3);
    expect(drops).toEqual([2]);
    expect(batcher.dropped).toBe(2);
    await network.runFor(10);
    expect([...sent[0]!.byShard.values()].flat().sort()).toEqual(['m-0', 'm-1', 'm-2']);
    batcher.add('s', ['m-3'], shardOf);
    expect(batcher.waiting).toBe(1);
  });

  it('survives a send that fails', async () => {
    const { network, batcher, sent } = setup({ accessBatchMs: 5, accessBatchMaxIds: 10 }, true);
    batcher.add('s', ['m-0'], shardOf);
    await network.runFor(5);
    batcher.add('s', ['m-1'], shardOf);
    await network.runFor(5);
    expect(sent).toHaveLength(2);
  });

  it('sends every id of a window exactly once, to its shard, and never holds more than the bound', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.array(fc.nat(30), { maxLength: 8 }), fc.nat(30)), { maxLength: 30 }), async (steps) => {
        const { network, batcher, sent, drops } = setup({ accessBatchMs: 7, accessBatchMaxIds: 12 });
        const expected: string[] = [];
        let window = new Set<string>();
        let sends = 0;
        const settle = () => {
          // A send ends the window: what was kept in it must be what went out.
          if (sent.length > sends) {
            expected.push(...window);
            window = new Set();
            sends = sent.length;
          }
        };
        for (const [space, ids, waitMs] of steps) {
          const before = batcher.waiting;
          batcher.add(space, ids.map((n) => `m-${n}`), shardOf);
          const kept = batcher.waiting - before;
          // Ids are kept in order until the bound; the rest are dropped.
          const fresh = [...new Set(ids.map((n) => `${space}/m-${n}`))].filter((key) => !window.has(key));
          for (const key of fresh.slice(0, kept)) window.add(key);
          expect(batcher.waiting).toBeLessThanOrEqual(12);
          await network.runFor(waitMs);
          settle();
        }
        await network.runFor(7);
        settle();
        expect(batcher.waiting).toBe(0);
        const got: string[] = [];
        for (const { space, byShard } of sent) {
          for (const [shard, ids] of byShard) {
            for (const id of ids) {
              expect(shardOf(id)).toBe(shard);
              got.push(`${space}/${id}`);
            }
          }
        }
        expect(got.sort()).toEqual(expected.sort());
        expect(drops.every((n) => n > 0)).toBe(true);
      }),
    );
  });
});
