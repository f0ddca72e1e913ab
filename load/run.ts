// Local load runner (`npm run load`): executes the scenarios of load/scenarios.json with
// autocannon (the same definitions k6 runs through load/k6-*.js, planned the same way) and
// prints req/s, p50/p95/p99, errors and the scenario thresholds, per scenario and per
// request kind and stage.
//
//   npm run load                                           own temporary node, every scenario
//   npm run load -- --scenario mixed --duration 30s        one scenario (or a,b, or all)
//   ENGRAM_URL=http://host:4000/graphql npm run load       against a running node (or --url)
//   npm run load -- --duration 2m --connections 8 --rate-scale 0.5 --seed-count 2000 --json --strict
//
// Without ENGRAM_URL (or --url) it starts a node in-process on a fresh temporary data
// directory (removed at the end) and seeds recall data through the engine directly;
// against a running node it seeds through GraphQL (ids seed-0.., so re-runs do not grow
// the space). Thresholds print PASS/MISS; with --strict a miss exits 99, as k6 does.
// Load is generated in a worker thread so it does not share the event loop with an
// in-process node. The work itself is in load/runner.ts.

import '../src/server/productionMode.js'; // must stay first: sets NODE_ENV before graphql loads
import { positiveNumber, walkFlags } from '../src/cliFlags.js';
import { setLogPrefix } from '../bench/support.js';
import { loadScenarioFile, parseDuration, renderOutcomes, runScenario, withTarget, type ScenarioOutcome } from './runner.js';

interface Args {
  url: string | undefined;
  scenarios: string[] | undefined;
  duration: number | undefined;
  connections: number | undefined;
  rateScale: number | undefined;
  seedCount: number | undefined;
  json: boolean;
  strict: boolean;
}

const USAGE =
  'usage: tsx load/run.ts [--scenario <name>[,<name>...]|all] [--url <graphql url>] [--duration <30s|2m|seconds>] [--connections <n>] [--rate-scale <x>] [--seed-count <n>] [--json] [--strict]\n' +
  '       (--only a,b is the same as --scenario a,b)';

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { url: process.env.ENGRAM_URL || undefined, scenarios: undefined, duration: undefined, connections: undefined, rateScale: undefined, seedCount: undefined, json: false, strict: false };
  walkFlags(argv, (flag, value, argument) => {
    switch (flag) {
      case '--url':
        args.url = value();
        break;
      case '--scenario':
      case '--only': {
        const names = (value() ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        if (names.length === 0) throw new Error(`${flag} needs a scenario name\n${USAGE}`);
        args.scenarios = names.includes('all') ? undefined : [...(args.scenarios ?? []), ...names];
        break;
      }
      case '--duration': {
        const raw = value();
        if (raw === undefined) throw new Error(`--duration needs a value\n${USAGE}`);
        args.duration = parseDuration(raw);
        break;
      }
      case '--connections':
        args.connections = Math.floor(positiveNumber(flag, value(), USAGE));
        break;
      case '--rate-scale':
        args.rateScale = positiveNumber(flag, value(), USAGE);
        break;
      case '--seed-count':
        args.seedCount = Math.floor(positiveNumber(flag, value(), USAGE));
        break;
      case '--json':
        args.json = true;
        break;
      case '--strict':
        args.strict = true;
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
  setLogPrefix('load');
  const args = parseArgs(process.argv.slice(2));
  const file = loadScenarioFile();
  const unknown = (args.scenarios ?? []).filter((name) => !file.scenarios.some((s) => s.name === name));
  if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${file.scenarios.map((s) => s.name).join(', ')}, all`);
  const names = args.scenarios ?? file.scenarios.map((s) => s.name);

  const { url, outcomes } = await withTarget(
    args.url,
    async (target) => {
      const outcomes: ScenarioOutcome[] = [];
      for (const name of names) {
        outcomes.push(await runScenario(name, target, { file, duration: args.duration, connections: args.connections, rateScale: args.rateScale, seedCount: args.seedCount }));
      }
      return { url: target.url, outcomes };
    },
    { trapSignals: true },
  );

  if (args.json) {
    process.stdout.write(`${JSON.stringify({ url, scenarios: outcomes }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  } else {
    process.stdout.write(`\n${renderOutcomes(outcomes, url)}\n`);
  }
  const missed = outcomes.some((o) => o.thresholds.some((t) => t.pass === false));
  if (missed && args.strict) return 99;
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
