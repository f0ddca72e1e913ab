// A sweep of whole-cluster simulation seeds inside `npm test`, split over two files so the
// two test workers share it. Every failing seed is reported with its replay command.

import { expect, it } from 'vitest';
import { runClusterSimulation } from '../../cluster/sim/clusterSimulation.js';
import { replayCommand } from '../../cluster/sim/clusterCli.js';

export function sweep(from: number, seeds: number): void {
  it(`seeds ${from}..${from + seeds - 1} of the whole-cluster simulation show no violation`, { timeout: 600_000 }, async () => {
    const failures: string[] = [];
    let acked = 0;
    for (let seed = from; seed < from + seeds; seed++) {
      const result = await runClusterSimulation({ seed });
      acked += result.acked;
      if (result.violations.length > 0) failures.push(`seed ${seed} (${result.scenario}): ${result.violations.join('; ')}; replay: ${replayCommand(result)}`);
    }
    expect(failures).toEqual([]);
    expect(acked).toBeGreaterThan(seeds * 50);
  });
}
