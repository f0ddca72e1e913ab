// Rendezvous placement of (space, shard) units: deterministic, rack-aware, balanced, and
// moving only what must move when membership changes.
import { describe, expect, it } from 'vitest';
import { Placement } from '../../cluster/placement/placement.js';
import { runPlacementSimulation } from '../../cluster/sim/placementSimulation.js';

const nodes = (n: number, racks = n) => Array.from({ length: n }, (_, i) => ({ id: `node-${i}`, rack: `rack-${i % racks}`, zone: `zone-${i % 2}` }));

describe('Placement', () => {
  it('assign_isAPureFunctionOfTheMemberSet', () => {
    const a = new Placement(nodes(5), 3);
    const b = new Placement([...nodes(5)].reverse(), 3);
    expect(b.version).toBe(a.version);
    for (let i = 0; i < 100; i++) expect(b.assign(`space-${i}`, i % 3)).toEqual(a.assign(`space-${i}`, i % 3));
    expect(new Placement(nodes(6), 3).version).not.toBe(a.version);
    expect(new Placement(nodes(5), 2).version).not.toBe(a.version);
  });

  it('assign_givesDistinctCopies_cappedAtTheClusterSize', () => {
    const placement = new Placement(nodes(2), 3);
    expect(placement.copies).toBe(2);
    const assignment = placement.assign('space-x');
    expect(assignment.replicas).toHaveLength(1);
    expect(assignment.replicas).not.toContain(assignment.primary);
    expect(new Placement(nodes(1), 3).assign('space-x')).toEqual({ shard: 0, primary: 'node-0', replicas: [] });
  });

  it('assign_putsNoTwoCopiesInOneRack_whileThereAreEnoughRacks', () => {
    const placement = new Placement(nodes(9, 3), 3);
    const rackOf = (id: string) => `rack-${Number(id.split('-')[1]) % 3}`;
    for (let i = 0; i < 500; i++) {
      const { primary, replicas } = placement.assign(`space-${i}`);
      expect(new Set([primary, ...replicas].map(rackOf)).size).toBe(3);
    }
    // Two racks for three copies: racks cannot all differ, but zones and ids still do.
    const twoRacks = new Placement(nodes(6, 2), 3);
    const { primary, replicas } = twoRacks.assign('space-y');
    expect(new Set([primary, ...replicas]).size).toBe(3);
  });

  it('shardsOfOneSpace_spreadOverNodes', () => {
    const placement = new Placement(nodes(10), 3);
    const primaries = new Set(placement.placementOf('big-space', 32).map((s) => s.primary));
    expect(primaries.size).toBeGreaterThanOrEqual(8);
  });

  it('aJoin_movesOnlySpacesToTheNewNode_andALeave_onlyTheLeaversSpaces', () => {
    const before = new Placement(nodes(10), 3);
    const joined = new Placement([...nodes(10), { id: 'node-new', rack: 'rack-x', zone: 'zone-0' }], 3);
    const left = new Placement(nodes(10).filter((n) => n.id !== 'node-3'), 3);
    for (let i = 0; i < 2000; i++) {
      const space = `space-${i}`;
      const owner = before.assign(space).primary;
      const afterJoin = joined.assign(space).primary;
      if (afterJoin !== owner) expect(afterJoin).toBe('node-new');
      if (owner !== 'node-3') expect(left.assign(space).primary).toBe(owner);
    }
  });

  it('tenNodesTenThousandSpaces_balanceUnder5Pct_andAJoinMovesAtMost1_2OverN', () => {
    const result = runPlacementSimulation({ nodes: 10, spaces: 10_000 });
    console.log(`placement: stddev ${result.stddevPct.toFixed(2)}%, max over mean ${result.maxOverMeanPct.toFixed(2)}%, moved on join ${result.movedOnJoinPct.toFixed(2)}%`);
    expect(result.stddevPct).toBeLessThan(5);
    expect(result.movedOnJoinPct).toBeLessThanOrEqual((1.2 * 100) / 10);
  });
});
