// `npm run sim:check -- --seeds N [--from K] [--jobs J] [--scenario NAME] [--duration-ms D]`
// Sweeps N seeds of the whole-cluster simulation from seed K, in J processes (default: one
// per core, at most 2), and prints every failing seed with the command that replays it
// exactly. Exits 1 when any seed fails. The summary line is JSON.

import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { choiceFlag, numberFlag, walkFlags } from '../../src/cliFlags.js';
import { runClusterSimulation, type ClusterSimulationOptions, type ClusterSimulationResult } from './clusterSimulation.js';
import { replayCommand } from './clusterCli.js';
import { scenarios, type Scenario } from './nemesis.js';

const USAGE = 'usage: npm run sim:check -- --seeds N [--from K] [--jobs J] [--scenario NAME] [--duration-ms D]';

interface SweepOptions {
  seeds: number;
  from: number;
  jobs: number;
  worker: boolean;
  scenario?: Scenario;
  durationMs?: number;
}

function parse(argv: readonly string[]): SweepOptions {
  const options: SweepOptions = { seeds: 100, from: 1, jobs: Math.min(2, availableParallelism()), worker: false };
  walkFlags(argv, (flag, raw, argument) => {
    const value = () => Math.max(0, Math.floor(numberFlag(flag, raw(), USAGE)));
    switch (flag) {
      case '--seeds':
        options.seeds = value();
        break;
      case '--from':
        options.from = value();
        break;
      case '--jobs':
        options.jobs = Math.max(1, value());
        break;
      case '--duration-ms':
        options.durationMs = value();
        break;
      case '--scenario':
        options.scenario = choiceFlag(flag, raw(), scenarios);
        break;
      case '--worker':
        options.worker = true;
        break;
      default:
        throw new Error(`unknown argument ${argument}\n${USAGE}`);
    }
  });
  return options;
}

function simulationOptions(options: SweepOptions, seed: number): ClusterSimulationOptions {
  return { seed, ...(options.scenario === undefined ? {} : { scenario: options.scenario }), ...(options.durationMs === undefined ? {} : { durationMs: options.durationMs }) };
}

/** Runs seeds from..from+seeds-1, one JSON line each. */
async function work(options: SweepOptions): Promise<void> {
  for (let seed = options.from; seed < options.from + options.seeds; seed++) {
    let result: ClusterSimulationResult | { seed: number; violations: string[] };
    try {
      result = await runClusterSimulation(simulationOptions(options, seed));
    } catch (error) {
      result = { seed, violations: [`the run crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`] };
    }
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
}

function spawnSlice(options: SweepOptions, from: number, seeds: number, onResult: (result: ClusterSimulationResult) => void): Promise<void> {
  const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--worker', '--from', String(from), '--seeds', String(seeds)];
  if (options.scenario !== undefined) args.push('--scenario', options.scenario);
  if (options.durationMs !== undefined) args.push('--duration-ms', String(options.durationMs));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim() !== '') onResult(JSON.parse(line) as ClusterSimulationResult);
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`a sweep process exited with ${code}`))));
  });
}

async function sweep(options: SweepOptions): Promise<void> {
  const started = performance.now();
  const failing: ClusterSimulationResult[] = [];
  const convergence: number[] = [];
  let done = 0;
  let acked = 0;
  let unconverged = 0;
  const perJob = Math.ceil(options.seeds / options.jobs);
  const slices: Promise<void>[] = [];
  for (let job = 0; job < options.jobs; job++) {
    const from = options.from + job * perJob;
    const seeds = Math.min(perJob, options.from + options.seeds - from);
    if (seeds <= 0) continue;
    slices.push(
      spawnSlice(options, from, seeds, (result) => {
        done++;
        acked += result.acked ?? 0;
        if (typeof result.convergenceMs === 'number') convergence.push(result.convergenceMs);
        else unconverged++;
        if (result.violations.length > 0) {
          failing.push(result);
          process.stdout.write(`seed ${result.seed} FAILED (${result.scenario ?? '?'}, ${result.nodes ?? '?'} nodes): ${result.violations.join('; ')}\n  replay: ${replayCommand(result, simulationOptions(options, result.seed))}\n`);
        }
      }),
    );
  }
  await Promise.all(slices);
  convergence.sort((a, b) => a - b);
  const quantile = (q: number) => (convergence.length === 0 ? null : convergence[Math.min(convergence.length - 1, Math.ceil(q * convergence.length) - 1)]!);
  const summary = {
    seeds: options.seeds,
    from: options.from,
    runs: done,
    failed: failing.length,
    failingSeeds: failing.map((r) => r.seed).sort((a, b) => a - b),
    acked,
    // Virtual time from the heal until every copy agreed (the clients write for the first 8 s of it).
    convergenceMs: { p50: quantile(0.5), p99: quantile(0.99), max: convergence.at(-1) ?? null, within60s: done === 0 ? null : (convergence.filter((ms) => ms <= 60_000).length / done), never: unconverged },
    wallMs: Math.round(performance.now() - started),
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exit(failing.length === 0 && done === options.seeds ? 0 : 1);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let options: SweepOptions;
  try {
    options = parse(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
  if (options.worker) void work(options).then(() => process.exit(0));
  else void sweep(options);
}
