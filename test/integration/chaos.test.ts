// A short chaos run on real processes (docs/chaos.md): three nodes, each on its own
// nats-server, every route between the servers through a fault proxy, and 15 s of
// partitions while clients write and read through every node. The history checker must
// find nothing, /routez must have shown every route going through a proxy, before the faults
// and after the heal, and no process the run started may be left running.
import { describe, expect, it, onTestFailed } from 'vitest';
import { runChaos } from '../../cluster/chaos/chaosRun.js';

const SEED = 7;

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

describe('a short chaos run of partitions', () => {
  // 40-55 s here; the run's own bounds (set-up 30 s, faults 15 s, drain 14 s, agreement up to
  // 60 s, liveness writes) allow more on a loaded machine, which the whole suite makes it.
  it('passesTheChecker_routesEveryNatsRouteThroughTheProxies_andLeavesNoProcessRunning', { timeout: 200_000 }, async () => {
    const started = performance.now();
    const progress: string[] = [];
    onTestFailed(() => console.log(`chaos seed ${SEED} progress:\n${progress.join('\n')}`));
    const result = await runChaos({ seed: SEED, nodes: 3, durationS: 15, nemesis: ['partition'], livenessMs: 4000, progress: (line) => progress.push(`${Math.round(performance.now() - started)} ms ${line}`) });
    const context = `seed ${SEED} (replay: ${result.replay}): ${JSON.stringify({ violations: result.violationDetails, examples: result.examples, nemeses: result.nemeses })}`;
    expect(result.violationDetails, context).toEqual([]);
    expect(result.pass, context).toBe(true);
    expect(result.routes.routes).toBe(3 * 2);
    expect(result.routes.throughProxies && result.routes.complete).toBe(true);
    expect(result.routes.afterHeal.throughProxies && result.routes.afterHeal.complete).toBe(true);
    expect(result.nemeses.filter((fault) => fault.kind === 'partition' && fault.error === undefined).length).toBeGreaterThan(0);
    expect(result.ops.acknowledgedQuorum).toBeGreaterThan(0);
    expect(result.ops.acknowledgedOne).toBeGreaterThan(0);
    expect(result.convergenceMs).not.toBeNull();
    // Three nats-servers and three node processes at least.
    expect(result.pids.length).toBeGreaterThanOrEqual(6);
    expect(result.pids.filter(isRunning)).toEqual([]);
    console.log(`chaos seed ${SEED}: ${result.ops.total} ops, ${result.ops.acknowledgedWrites} acknowledged, ${result.nemeses.length} partitions, converged ${result.convergenceMs} ms after the heal (reads and logs after ${result.agreedBeforeDigestsMs} ms), ${result.wallMs} ms wall`);
  });
});
