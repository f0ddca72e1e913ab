// Partition awareness in the simulator: a clean 3|2 split leaves the minority reporting
// itself partitioned and the majority not, and after the split heals every node sees
// every other ALIVE again and nobody reports a partition.
import { describe, expect, it } from 'vitest';
import { defaultMembershipConfig } from '../../cluster/membership/membershipConfig.js';
import { partitionHealth } from '../../cluster/membership/partition.js';
import { simulatedMembers } from '../../cluster/sim/membershipSimulation.js';
import { SimNetwork } from '../../cluster/sim/simNetwork.js';

describe('partition awareness', () => {
  it('cleanSplit_minorityReportsPartitioned_andHealingMergesTheSidesAgain', async () => {
    const network = new SimNetwork({ seed: 42 });
    const ids = ['n0', 'n1', 'n2', 'n3', 'n4'];
    const shells = simulatedMembers(network, ids, defaultMembershipConfig);
    shells.forEach((shell, i) => shell.start(i === 0 ? [] : ['n0']));
    const health = () => shells.map((shell) => partitionHealth(shell.swim.view(), 0.6));

    await network.runUntil(5000);
    expect(health().every((h) => h.reachableFraction === 1 && !h.partitioned)).toBe(true);

    network.partition([['n0', 'n1', 'n2'], ['n3', 'n4']]);
    await network.runUntil(10_000);
    const split = health();
    expect(split.slice(0, 3).map((h) => h.partitioned)).toEqual([false, false, false]);
    expect(split.slice(0, 3).map((h) => h.reachableFraction)).toEqual([0.6, 0.6, 0.6]);
    expect(split.slice(3).map((h) => h.partitioned)).toEqual([true, true]);
    expect(split.slice(3).map((h) => h.reachableFraction)).toEqual([0.4, 0.4]);

    network.heal();
    await network.runUntil(25_000);
    for (const shell of shells) {
      expect(shell.swim.view().map((m) => m.state)).toEqual(['ALIVE', 'ALIVE', 'ALIVE', 'ALIVE', 'ALIVE']);
    }
    expect(health().every((h) => !h.partitioned)).toBe(true);
    for (const shell of shells) shell.stop();
  });
});
