// Anti-entropy in the simulator, beside replication: copies damaged behind the log (records
// deleted or altered directly in a store, just before the clients stop, so no later write
// rewrites them) converge with anti-entropy on, and never converge with it off. The same
// seeds replay the same damage either way.
import { describe, expect, it } from 'vitest';
import { runClusterSimulation } from '../../cluster/sim/clusterSimulation.js';

const SEEDS = [1, 2, 3, 4, 5, 6];

describe('anti-entropy in the cluster simulator', () => {
  it.each(SEEDS.flatMap((seed) => [
    [seed, 'damage'],
    [seed, 'split-damage'],
  ] as const))('seed %i (%s) converges with every check passing', { timeout: 60_000 }, async (seed, scenario) => {
    const result = await runClusterSimulation({ seed, scenario });
    expect(result.violations).toEqual([]);
    expect(result.convergenceMs).not.toBeNull();
  });

  it('a damaged copy never converges without anti-entropy, so the checker would catch its absence', { timeout: 120_000 }, async () => {
    const failing = [];
    for (const seed of [1, 2, 3]) {
      const result = await runClusterSimulation({ seed, scenario: 'damage', antiEntropy: false });
      if (result.violations.includes('the copies never converged after the heal')) failing.push(seed);
    }
    expect(failing).toEqual([1, 2, 3]);
  });
});
