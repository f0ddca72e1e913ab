// When a replica may answer a read (cluster/replication/shardCore.ts canRead): current within
// the lag bound always; past it only when the gatherer allows a stale answer (its primary did
// not answer) and the copy was current at some point, so a copy that never caught up never
// answers for a shard it does not hold.
import { describe, expect, it } from 'vitest';
import type { Epoch } from '../../cluster/replication/epoch.js';
import { defaultReplicationSettings } from '../../cluster/replication/replicationSettings.js';
import { ShardCore } from '../../cluster/replication/shardCore.js';

const EPOCH: Epoch = [2, 'p'];

function replica(): ShardCore {
  return new ShardCore({
    space: 's',
    shard: 0,
    self: 'r',
    settings: defaultReplicationSettings,
    position: { epoch: EPOCH, history: [[EPOCH, 1]], lastSeq: 5, installing: false },
    definition: () => undefined,
  });
}

describe('replica reads', () => {
  it('aReplicaThatNeverCaughtUp_refusesEvenAStaleRead', () => {
    const core = replica();
    expect(core.canRead(true, 10_000)).toBe(false);
    expect(core.canRead(true, 10_000, true)).toBe(false);
  });

  it('aCaughtUpReplica_answersWithinTheLagBound_andPastItOnlyWhenStaleIsAllowed', () => {
    const core = replica();
    const lag = defaultReplicationSettings.maxReplicaLagMs;
    core.onHeartbeat('p', EPOCH, false, 10_000);
    expect(core.canRead(true, 10_000 + lag)).toBe(true);
    expect(core.canRead(false, 10_000)).toBe(false);
    expect(core.canRead(true, 10_000 + lag + 1)).toBe(false);
    expect(core.canRead(true, 10_000 + lag + 1, true)).toBe(true);
    // A heartbeat of another epoch does not make it current.
    const other = replica();
    other.onHeartbeat('q', [3, 'q'], false, 10_000);
    expect(other.canRead(true, 10_000, true)).toBe(false);
  });
});
