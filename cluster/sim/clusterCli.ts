// `npm run sim:cluster -- --seed S [--nodes N] [--scenario NAME] [--duration-ms D] [--json]`
// Runs the whole cluster in the simulator under one seed and judges it with the history
// checker. Prints one JSON line (with --json) or a short report; exits 1 when any checker
// reports a violation. The same arguments always print the same line, wallMs aside.

import { choiceFlag, numberFlag, walkFlags } from '../../src/cliFlags.js';
import { runClusterSimulation, type ClusterSimulationOptions, type ClusterSimulationResult } from './clusterSimulation.js';
import { brokenVariants } from './brokenVariants.js';
import { scenarios } from './nemesis.js';

const USAGE = `usage: npm run sim:cluster -- --seed S [--nodes N] [--scenario ${scenarios.join('|')}] [--duration-ms D] [--replication-factor R] [--shards K] [--json]`;

export function replayCommand(result: Pick<ClusterSimulationResult, 'seed'>, options: Pick<ClusterSimulationOptions, 'nodes' | 'scenario' | 'durationMs' | 'variant'> = {}): string {
  const parts = ['npm run sim:cluster --', `--seed ${result.seed}`];
  if (options.nodes !== undefined) parts.push(`--nodes ${options.nodes}`);
  if (options.scenario !== undefined) parts.push(`--scenario ${options.scenario}`);
  if (options.durationMs !== undefined) parts.push(`--duration-ms ${options.durationMs}`);
  if (options.variant !== undefined) parts.push(`--variant ${options.variant}`);
  return parts.join(' ');
}

function parse(argv: readonly string[]): ClusterSimulationOptions & { json: boolean } {
  const options: ClusterSimulationOptions & { json: boolean } = { seed: 42, json: false };
  walkFlags(argv, (flag, raw, argument) => {
    const value = () => Math.floor(numberFlag(flag, raw(), USAGE));
    switch (flag) {
      case '--seed':
        options.seed = value();
        break;
      case '--nodes':
        options.nodes = value();
        break;
      case '--duration-ms':
        options.durationMs = value();
        break;
      case '--replication-factor':
        options.replicationFactor = value();
        break;
      case '--shards':
        options.shards = value();
        break;
      case '--scenario':
        options.scenario = choiceFlag(flag, raw(), scenarios);
        break;
      case '--variant':
        options.variant = choiceFlag(flag, raw(), brokenVariants);
        break;
      case '--json':
        options.json = true;
        break;
      default:
        throw new Error(`unknown argument ${argument}\n${USAGE}`);
    }
  });
  return options;
}

async function main(): Promise<void> {
  let options: ClusterSimulationOptions & { json: boolean };
  try {
    options = parse(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
  const { json, ...simulation } = options;
  const result = await runClusterSimulation(simulation);
  if (json) {
    const { seed, nodes, scenario, ops, acked, lost, stale, phantoms, divergentShards, maxPrimariesPerEpoch, convergenceMs, wallMs } = result;
    console.log(JSON.stringify({ seed, nodes, scenario, ops, acked, lost, stale, phantoms, divergentShards, maxPrimariesPerEpoch, convergenceMs, replicationFactor: result.replicationFactor, shards: result.shards, underReplicated: result.underReplicated, violations: result.violations, wallMs }));
  } else {
    console.log(`seed ${result.seed}: ${result.nodes} nodes, RF ${result.replicationFactor}, ${result.shards} shards, scenario ${result.scenario}`);
    console.log(`  ${result.ops} ops, ${result.acked} acknowledged writes; lost ${result.lost}, under-replicated ${result.underReplicated}, stale ${result.stale}, phantoms ${result.phantoms}`);
    console.log(`  divergent shards ${result.divergentShards}, max primaries per epoch ${result.maxPrimariesPerEpoch}, converged ${result.convergenceMs ?? 'never'} ms after the heal; ${result.wallMs} ms wall`);
    for (const violation of result.violations) console.log(`  VIOLATION ${violation}`);
    if (result.violations.length > 0) console.log(`  replay: ${replayCommand(result, simulation)}`);
  }
  process.exit(result.violations.length === 0 ? 0 : 1);
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
