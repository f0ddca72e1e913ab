// Entry point of `npm run bench`: runs the remember and recall benchmarks against nodes it
// starts in-process on fresh temporary data directories, and prints every figure beside a
// baseline measured in the same run (this machine is shared and noisy).
//
//   npm run bench                      full run (about 4-6 minutes on 2 cores)
//   npm run bench -- --quick           ~10x smaller, a smoke run
//   npm run bench -- --json            one JSON object on stdout instead of the table
//   npm run bench -- --only remember   or --only recall, --only quality (recall against planted ground truth)
//   --duration <s>                     seconds per remember run (default 10, quick 2)
//   --count <n> / --queries <n>        recall data size / query count (default 100000 / 1000)
//
// Progress goes to stderr. Targets print PASS/MISS and never change the exit code; a
// benchmark that crashes does (exit 1). Temporary directories are removed in every case.

import '../src/server/productionMode.js'; // must stay first: sets NODE_ENV before graphql loads
import { positiveNumber, walkFlags } from '../src/cliFlags.js';
import { commonFlag, exitWith, runBench, type CommonArgs } from './entry.js';
import { qualityBench } from './qualityBench.js';
import { recallBench, recallOptions } from './recallBench.js';
import { rememberBench, rememberOptions } from './rememberBench.js';

interface Args extends CommonArgs {
  only: 'remember' | 'recall' | 'quality' | undefined;
  count: number | undefined;
  queries: number | undefined;
}

const USAGE = 'usage: tsx bench/run.ts [--json] [--quick] [--only remember|recall|quality] [--duration <s>] [--count <n>] [--queries <n>]';

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { json: false, quick: false, only: undefined, duration: undefined, count: undefined, queries: undefined };
  walkFlags(argv, (flag, value, argument) => {
    if (commonFlag(args, flag, value, USAGE)) return;
    switch (flag) {
      case '--only': {
        const only = value();
        if (only !== 'remember' && only !== 'recall' && only !== 'quality') throw new Error(`--only takes remember, recall or quality\n${USAGE}`);
        args.only = only;
        break;
      }
      case '--count':
        args.count = Math.floor(positiveNumber(flag, value(), USAGE));
        break;
      case '--queries':
        args.queries = Math.floor(positiveNumber(flag, value(), USAGE));
        break;
      default:
        throw new Error(`unknown argument ${argument}\n${USAGE}`);
    }
  });
  return args;
}

exitWith(async () => {
  const args = parseArgs(process.argv.slice(2));
  return runBench({
    title: 'Engram benchmarks',
    args,
    meta: { only: args.only ?? 'all' },
    run: async (cleanup, sections) => {
      const wanted = (name: NonNullable<Args['only']>) => args.only === undefined || args.only === name;
      if (wanted('remember')) sections.push(await rememberBench(cleanup, rememberOptions(args.quick, args.duration)));
      if (wanted('recall')) sections.push(await recallBench(cleanup, recallOptions(args.quick, { count: args.count, queries: args.queries })));
      if (wanted('quality')) sections.push(await qualityBench(cleanup, args.quick));
    },
  });
});
