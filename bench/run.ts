// Entry point of `npm run bench`: runs the remember and recall benchmarks against nodes it
// starts in-process on fresh temporary data directories, and prints every figure beside a
// baseline measured in the same run (this machine is shared and noisy).
//
//   npm run bench                      full run (about 4-6 minutes on 2 cores)
//   npm run bench -- --quick           ~10x smaller, a smoke run
//   npm run bench -- --json            one JSON object on stdout instead of the table
//   npm run bench -- --only remember   or --only recall
//   --duration <s>                     seconds per remember run (default 10, quick 2)
//   --count <n> / --queries <n>        recall data size / query count (default 100000 / 1000)
//
// Progress goes to stderr. Targets print PASS/MISS and never change the exit code; a
// benchmark that crashes does (exit 1). Temporary directories are removed in every case.

import '../src/server/productionMode.js'; // must stay first: sets NODE_ENV before graphql loads
import { availableParallelism, cpus } from 'node:os';
import { positiveNumber, walkFlags } from '../src/cliFlags.js';
import { recallBench, recallOptions } from './recallBench.js';
import { rememberBench, rememberOptions } from './rememberBench.js';
import { renderTable, toJson, type Section } from './report.js';
import { Cleanup, log } from './support.js';

interface Args {
  json: boolean;
  quick: boolean;
  only: 'remember' | 'recall' | undefined;
  duration: number | undefined;
  count: number | undefined;
  queries: number | undefined;
}

const USAGE = 'usage: tsx bench/run.ts [--json] [--quick] [--only remember|recall] [--duration <s>] [--count <n>] [--queries <n>]';

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { json: false, quick: false, only: undefined, duration: undefined, count: undefined, queries: undefined };
  walkFlags(argv, (flag, value, argument) => {
    switch (flag) {
      case '--json':
        args.json = true;
        break;
      case '--quick':
        args.quick = true;
        break;
      case '--only': {
        const only = value();
        if (only !== 'remember' && only !== 'recall') throw new Error(`--only takes remember or recall\n${USAGE}`);
        args.only = only;
        break;
      }
      case '--duration':
        args.duration = positiveNumber(flag, value(), USAGE);
        break;
      case '--count':
        args.count = Math.floor(positiveNumber(flag, value(), USAGE));
        break;
      case '--queries':
        args.queries = Math.floor(positiveNumber(flag, value(), USAGE));
        break;
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${argument}\n${USAGE}`);
    }
  });
  return args;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const cleanup = new Cleanup();
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: cleaning up`);
    void cleanup.runAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const started = performance.now();
  const sections: Section[] = [];
  let failure: unknown;
  try {
    if (args.only !== 'recall') sections.push(await rememberBench(cleanup, rememberOptions(args.quick, args.duration)));
    if (args.only !== 'remember') sections.push(await recallBench(cleanup, recallOptions(args.quick, { count: args.count, queries: args.queries })));
  } catch (error) {
    failure = error;
  } finally {
    await cleanup.runAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const totalSeconds = (performance.now() - started) / 1000;

  const meta = {
    startedAt: new Date(Date.now() - totalSeconds * 1000).toISOString(),
    mode: args.quick ? 'quick' : 'full',
    only: args.only ?? 'all',
    totalSeconds,
    machine: { node: process.version, cpus: availableParallelism(), cpuModel: cpus()[0]?.model ?? 'unknown' },
    // graphql-js picks its slow development-mode instanceOf checks when NODE_ENV is not "production".
    nodeEnv: process.env.NODE_ENV ?? '(unset)',
    ...(failure === undefined ? {} : { failure: failure instanceof Error ? (failure.stack ?? failure.message) : String(failure) }),
  };
  if (args.json) {
    process.stdout.write(`${toJson(sections, meta)}\n`);
  } else if (sections.length > 0) {
    process.stdout.write(`\nEngram benchmarks (${meta.mode}, ${meta.machine.cpus} CPUs, ${meta.machine.cpuModel}, node ${meta.machine.node}, NODE_ENV ${meta.nodeEnv})\n`);
    process.stdout.write('ratio = value / baseline; both measured in this run\n\n');
    process.stdout.write(`${renderTable(sections)}\n\ntotal runtime ${totalSeconds.toFixed(1)} s\n`);
  }
  if (failure !== undefined) {
    log(`benchmark failed: ${failure instanceof Error ? (failure.stack ?? failure.message) : String(failure)}`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
