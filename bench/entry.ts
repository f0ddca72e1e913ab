// The frame every benchmark entry point shares: the common flags, cleanup on success,
// failure or a signal, and the output (the table, or one JSON object with --json) with
// the run's metadata. A crash exits 1; targets never change the exit code.

import { availableParallelism, cpus } from 'node:os';
import { positiveNumber } from '../src/cliFlags.js';
import { renderTable, toJson, type Section } from './report.js';
import { Cleanup, log } from './support.js';

export interface CommonArgs {
  json: boolean;
  quick: boolean;
  duration: number | undefined;
}

/** Handles --json, --quick, --duration and --help; false for any other flag. */
export function commonFlag(args: CommonArgs, flag: string, value: () => string | undefined, usage: string): boolean {
  switch (flag) {
    case '--json':
      args.json = true;
      return true;
    case '--quick':
      args.quick = true;
      return true;
    case '--duration':
      args.duration = positiveNumber(flag, value(), usage);
      return true;
    case '--help':
    case '-h':
      process.stdout.write(`${usage}\n`);
      return process.exit(0);
    default:
      return false;
  }
}

export interface BenchFrame {
  /** Heading of the table, e.g. "Engram benchmarks". */
  title: string;
  args: CommonArgs;
  /** Extra metadata, placed after `mode`. */
  meta?: Record<string, unknown>;
  /** Pushes sections as they finish, so a later crash still reports the earlier ones. */
  run(cleanup: Cleanup, sections: Section[]): Promise<void>;
}

export async function runBench(frame: BenchFrame): Promise<number> {
  const { args } = frame;
  const cleanup = new Cleanup();
  const untrap = cleanup.trapSignals();

  const started = performance.now();
  const sections: Section[] = [];
  let failure: unknown;
  try {
    await frame.run(cleanup, sections);
  } catch (error) {
    failure = error;
  } finally {
    await cleanup.runAll();
    untrap();
  }
  const totalSeconds = (performance.now() - started) / 1000;

  const meta = {
    startedAt: new Date(Date.now() - totalSeconds * 1000).toISOString(),
    mode: args.quick ? 'quick' : 'full',
    ...frame.meta,
    totalSeconds,
    machine: { node: process.version, cpus: availableParallelism(), cpuModel: cpus()[0]?.model ?? 'unknown' },
    // graphql-js picks its slow development-mode instanceOf checks when NODE_ENV is not "production".
    nodeEnv: process.env.NODE_ENV ?? '(unset)',
    ...(failure === undefined ? {} : { failure: failure instanceof Error ? (failure.stack ?? failure.message) : String(failure) }),
  };
  if (args.json) {
    process.stdout.write(`${toJson(sections, meta)}\n`);
  } else if (sections.length > 0) {
    process.stdout.write(`\n${frame.title} (${meta.mode}, ${meta.machine.cpus} CPUs, ${meta.machine.cpuModel}, node ${meta.machine.node}, NODE_ENV ${meta.nodeEnv})\n`);
    process.stdout.write('ratio = value / baseline; both measured in this run\n\n');
    process.stdout.write(`${renderTable(sections)}\n\ntotal runtime ${totalSeconds.toFixed(1)} s\n`);
  }
  if (failure !== undefined) {
    log(`benchmark failed: ${failure instanceof Error ? (failure.stack ?? failure.message) : String(failure)}`);
    return 1;
  }
  return 0;
}

/** Runs an entry point: its code becomes the exit code; bad arguments exit 2. */
export function exitWith(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 2;
    },
  );
}
