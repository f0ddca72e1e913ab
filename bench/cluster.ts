// Entry point of `npm run bench:cluster`: starts a nats-server and three Engram nodes as
// child processes on fresh temporary data directories, and measures one routing hop,
// replication lag at a steady write rate, the cost of QUORUM writes, the bytes anti-entropy
// takes to repair 1% of a 100k-record shard and the merge time per conflict, each figure beside
// a baseline measured in the same run (this machine is shared and noisy).
//
//   npm run bench:cluster                   full run (several minutes on 2 cores)
//   npm run bench:cluster -- --quick        a smoke run, about two minutes
//   npm run bench:cluster -- --json         one JSON object on stdout instead of the table
//   --duration <s>                          seconds per load run (default 10, quick 3)
//
// Needs nats-server on PATH (or NATS_SERVER_BIN). Progress goes to stderr. Targets print
// PASS/MISS and never change the exit code; a crash does (exit 1). Node processes, the
// server and temporary directories are cleaned up in every case, also on SIGINT.

import '../src/server/productionMode.js'; // must stay first: sets NODE_ENV before graphql loads
import { walkFlags } from '../src/cliFlags.js';
import { clusterBench, clusterOptions } from './clusterBench.js';
import { commonFlag, exitWith, runBench, type CommonArgs } from './entry.js';
import { setLogPrefix } from './support.js';

const USAGE = 'usage: tsx bench/cluster.ts [--json] [--quick] [--duration <s>]';

function parseArgs(argv: readonly string[]): CommonArgs {
  const args: CommonArgs = { json: false, quick: false, duration: undefined };
  walkFlags(argv, (flag, value, argument) => {
    if (!commonFlag(args, flag, value, USAGE)) throw new Error(`unknown argument ${argument}\n${USAGE}`);
  });
  return args;
}

exitWith(async () => {
  const args = parseArgs(process.argv.slice(2));
  setLogPrefix('bench:cluster');
  return runBench({
    title: 'Engram cluster benchmarks',
    args,
    run: (cleanup, sections) => clusterBench(cleanup, clusterOptions(args.quick, args.duration), sections),
  });
});
