// Replays every regression seed of the whole-cluster simulation and checks that two runs of
// one seed print the same figures. A failure names the seed and the command that replays it.

import { describe, expect, it } from 'vitest';
import { runClusterSimulation, type ClusterSimulationResult } from '../../cluster/sim/clusterSimulation.js';
import { replayCommand } from '../../cluster/sim/clusterCli.js';
import { regressionSeeds } from './regressionSeeds.js';

function figures(result: ClusterSimulationResult): Omit<ClusterSimulationResult, 'wallMs'> {
  const { wallMs: _wallMs, ...rest } = result;
  return rest;
}

describe('whole-cluster simulation regression seeds', () => {
  for (const { options, found } of regressionSeeds) {
    it(`seed ${options.seed}${options.scenario === undefined ? '' : ` (${options.scenario})`} stays fixed: ${found.slice(0, 80)}`, { timeout: 60_000 }, async () => {
      const result = await runClusterSimulation(options);
      expect(result.violations, `replay: ${replayCommand(result, options)}`).toEqual([]);
      expect(result.acked).toBeGreaterThan(0);
    });
  }

  it('theSameSeed_twice_givesIdenticalFigures', { timeout: 60_000 }, async () => {
    const first = await runClusterSimulation({ seed: 7, scenario: 'mix' });
    const second = await runClusterSimulation({ seed: 7, scenario: 'mix' });
    expect(figures(second)).toEqual(figures(first));
  });
});
