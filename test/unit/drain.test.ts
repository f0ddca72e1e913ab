// The drain's judgement of a hand-off, and its loop on a virtual clock: it leaves first,
// counts a shard moved only once this copy was fenced and the new primary holds its whole
// log, gives up at once when no other member can lead, and leaves anyway at its bound.
import { describe, expect, it } from 'vitest';
import type { NodeClock } from '../../cluster/clock.js';
import { drainNode, handOffState, type DrainPorts } from '../../cluster/replication/drain.js';
import type { UnitStatus } from '../../cluster/replication/shardStatus.js';

const unit = { space: 's', shard: 0, epoch: [3, 'me'] as const };

function status(role: UnitStatus['role'], epoch: number, epochNode: string, lastSeq: number, shard = 0): UnitStatus {
  return { space: 's', shard, role, epoch, epochNode, lastSeq, primary: null, degraded: false, digest: null, replicas: [] };
}

describe('handOffState', () => {
  it('waitsWhileThisCopyStillLeads_orWasNotFenced', () => {
    expect(handOffState('me', unit, status('primary', 3, 'me', 10), 'b', status('primary', 4, 'b', 10), true)).toBe('waiting');
    // Stepped down by placement, but no claimant has fenced it yet.
    expect(handOffState('me', unit, status('replica', 3, 'me', 10), 'b', status('primary', 3, 'me', 12), true)).toBe('waiting');
  });

  it('waitsUntilTheNewPrimaryHoldsThisCopysWholeLog', () => {
    expect(handOffState('me', unit, status('replica', 4, 'b', 10), 'b', status('syncing', 4, 'b', 6), true)).toBe('waiting');
    expect(handOffState('me', unit, status('replica', 4, 'b', 10), 'b', status('primary', 4, 'b', 9), true)).toBe('waiting');
    expect(handOffState('me', unit, status('replica', 4, 'b', 10), 'b', status('primary', 4, 'b', 10), true)).toBe('moved');
    // A later claim that fenced the first claimant also holds it.
    expect(handOffState('me', unit, status('replica', 4, 'b', 10), 'c', status('primary', 5, 'c', 14), true)).toBe('moved');
  });

  it('refusesAPrimaryOfAnOlderEpochThanTheFence', () => {
    expect(handOffState('me', unit, status('replica', 5, 'c', 10), 'b', status('primary', 4, 'b', 20), true)).toBe('waiting');
  });

  it('isStuckOnlyWhenNoOtherMemberIsLive', () => {
    expect(handOffState('me', unit, status('primary', 3, 'me', 10), 'me', undefined, true)).toBe('waiting');
    expect(handOffState('me', unit, status('primary', 3, 'me', 10), 'me', undefined, false)).toBe('stuck');
  });
});

/** A virtual clock: timers run when `advance` passes them. */
function virtualClock() {
  let now = 0;
  const timers: { at: number; work: () => void }[] = [];
  const clock: NodeClock = {
    nowMs: () => now,
    schedule(atMs, work) {
      const timer = { at: atMs, work };
      timers.push(timer);
      return () => timers.splice(timers.indexOf(timer), 1);
    },
    every: () => () => undefined,
  };
  const advance = async (ms: number) => {
    const end = now + ms;
    for (;;) {
      await new Promise((r) => setImmediate(r));
      timers.sort((a, b) => a.at - b.at);
      const next = timers[0];
      if (next === undefined || next.at > end) break;
      timers.shift();
      now = next.at;
      next.work();
    }
    now = end;
  };
  return { clock, advance };
}

const logger = { info: () => undefined, warn: () => undefined };

describe('drainNode', () => {
  it('leavesFirst_thenReportsEachShardMovedOnceItsNewPrimaryHoldsIt', async () => {
    const { clock, advance } = virtualClock();
    const local = [status('primary', 3, 'me', 10, 0), status('primary', 2, 'me', 7, 1), status('replica', 2, 'x', 5, 2)];
    const remote = [status('syncing', 4, 'b', 0, 0), status('primary', 3, 'b', 7, 1)];
    const events: string[] = [];
    const ports: DrainPorts = {
      clock,
      logger,
      spaces: () => ['s'],
      localStatus: () => local,
      primaryOf: () => (events.includes('leave') ? 'b' : 'me'),
      othersLive: () => true,
      remoteStatus: () => Promise.resolve(remote),
      leave: () => void events.push('leave'),
    };
    const outcome = drainNode('me', ports, { timeoutMs: 10_000, pollMs: 100, statusTimeoutMs: 500 });
    await advance(300);
    expect(events).toEqual(['leave']);
    // Fenced: both shards now replicas at b's epochs; shard 1 is held, shard 0 still catching up.
    local[0] = status('replica', 4, 'b', 10, 0);
    local[1] = status('replica', 3, 'b', 7, 1);
    await advance(300);
    remote[0] = status('primary', 4, 'b', 10, 0);
    await advance(300);
    expect(await outcome).toMatchObject({ node: 'me', shardsMoved: 2, shardsNotMoved: 0, timedOut: false });
  });

  it('endsAtOnceWhenNoOtherMemberCanLead_andAtItsBoundOtherwise', async () => {
    const { clock, advance } = virtualClock();
    const base = { clock, logger, spaces: () => ['s'], localStatus: () => [status('primary', 3, 'me', 10)], remoteStatus: () => Promise.resolve([]), leave: () => undefined };
    const alone = drainNode('me', { ...base, primaryOf: () => 'me', othersLive: () => false }, { timeoutMs: 10_000, pollMs: 100, statusTimeoutMs: 500 });
    await advance(0);
    expect(await alone).toMatchObject({ shardsMoved: 0, shardsNotMoved: 1, timedOut: false, elapsedMs: 0 });
    const bounded = drainNode('me', { ...base, primaryOf: () => 'b', othersLive: () => true }, { timeoutMs: 1000, pollMs: 100, statusTimeoutMs: 500 });
    await advance(1500);
    expect(await bounded).toMatchObject({ shardsMoved: 0, shardsNotMoved: 1, timedOut: true });
  });
});
