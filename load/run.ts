// Local load runner (`npm run load`): executes the scenarios of load/scenarios.json with
// autocannon (the same definitions k6 runs through load/k6-*.js) and prints p50/p99/req/s,
// error counts and the scenario thresholds per scenario.
//
//   npm run load                                   own temporary node, all scenarios
//   ENGRAM_URL=http://host:4000/graphql npm run load   against a running node
//   npm run load -- --duration 5 --connections 8 --only remember,recall --seed-count 2000 --json --strict
//
// Without ENGRAM_URL (or --url) it starts a node in-process on a fresh temporary data
// directory (removed at the end) and seeds recall data through the engine directly;
// against a running node it seeds through GraphQL (ids seed-0.., so re-runs do not grow
// the space). Thresholds print PASS/MISS; with --strict a miss exits 99, as k6 does.
// Load is generated in a worker thread so it does not share the event loop with an
// in-process node.

import '../src/server/productionMode.js'; // must stay first: sets NODE_ENV before graphql loads
import { positiveNumber, walkFlags } from '../src/cliFlags.js';
import { readFileSync } from 'node:fs';
import type { BodySpec } from '../bench/bodies.js';
import { runHttpLoad, type HttpLoadResult } from '../bench/httpLoad.js';
import { formatNumber } from '../bench/report.js';
import { Cleanup, graphql, log, setLogPrefix, startTempNode, timedLoop } from '../bench/support.js';
import type { EngramNode } from '../src/server/app.js';
import { clusteredVectors } from '../test/support/clusteredVectors.js';

interface SeedSpec {
  count: number;
  dimension: number;
  clusters: number;
  seed: number;
  spread?: number;
  concurrency?: number;
}

interface Scenario {
  name: string;
  description?: string;
  setup?: { space?: { id: string; dimension?: number }; seed?: SeedSpec };
  query: string;
  variables?: unknown;
  connections: number;
  duration: number;
  thresholds?: Record<string, string[]>;
}

interface ScenarioFile {
  url?: string;
  scenarios: Scenario[];
}

interface Args {
  url: string | undefined;
  duration: number | undefined;
  connections: number | undefined;
  only: string[] | undefined;
  seedCount: number | undefined;
  json: boolean;
  strict: boolean;
}

const USAGE = 'usage: tsx load/run.ts [--url <graphql url>] [--duration <s>] [--connections <n>] [--only a,b] [--seed-count <n>] [--json] [--strict]';

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { url: process.env.ENGRAM_URL || undefined, duration: undefined, connections: undefined, only: undefined, seedCount: undefined, json: false, strict: false };
  walkFlags(argv, (flag, value, argument) => {
    switch (flag) {
      case '--url':
        args.url = value();
        break;
      case '--duration':
        args.duration = positiveNumber(flag, value(), USAGE);
        break;
      case '--connections':
        args.connections = Math.floor(positiveNumber(flag, value(), USAGE));
        break;
      case '--only':
        args.only = (value() ?? '').split(',').map((s) => s.trim()).filter(Boolean);
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

// ---- thresholds (the k6 subset scenarios.json uses) ------------------------------------

interface ThresholdResult {
  metric: string;
  expression: string;
  actual: number;
  pass: boolean | undefined;
}

function compare(actual: number, op: string, limit: number): boolean {
  switch (op) {
    case '<':
      return actual < limit;
    case '<=':
      return actual <= limit;
    case '>':
      return actual > limit;
    case '>=':
      return actual >= limit;
    case '==':
    case '===':
      return actual === limit;
    case '!=':
      return actual !== limit;
    default:
      throw new Error(`unsupported operator ${op}`);
  }
}

function evaluateThreshold(metric: string, expression: string, result: HttpLoadResult): ThresholdResult {
  const match = /^\s*([a-z]+(?:\(\s*[\d.]+\s*\))?)\s*(<=|>=|===|==|!=|<|>)\s*([\d.eE+-]+)\s*$/.exec(expression);
  const unknown = { metric, expression, actual: NaN, pass: undefined };
  if (match === null) return unknown;
  const [, stat, op, rawLimit] = match as unknown as [string, string, string, string];
  const limit = Number(rawLimit);
  const total = Math.max(1, result.requests + result.socketErrors + result.timeouts);
  let actual: number;
  if (metric === 'http_req_duration') {
    const l = result.latencyMs;
    const percentile = /^p\(\s*([\d.]+)\s*\)$/.exec(stat);
    if (percentile !== null) {
      const p = Number(percentile[1]);
      actual = p === 50 ? l.p50 : p === 90 ? l.p90 : p === 99 ? l.p99 : NaN;
    } else actual = stat === 'avg' ? l.mean : stat === 'med' ? l.p50 : stat === 'max' ? l.max : NaN;
  } else if (metric === 'http_req_failed' && stat === 'rate') {
    actual = (result.non2xx + result.socketErrors + result.timeouts) / total;
  } else if (metric === 'graphql_errors' && stat === 'rate') {
    actual = (result.graphqlErrors + result.badBodies) / total;
  } else if (metric === 'http_reqs') {
    actual = stat === 'rate' ? result.requestsPerSecond : stat === 'count' ? result.requests : NaN;
  } else {
    return unknown;
  }
  return { metric, expression, actual, pass: Number.isNaN(actual) ? undefined : compare(actual, op, limit) };
}

// ---- setup and seeding -----------------------------------------------------------------

async function setupScenario(scenario: Scenario, url: string, node: EngramNode | undefined, seedCount: number | undefined): Promise<void> {
  const space = scenario.setup?.space;
  if (space !== undefined) {
    await graphql(url, 'mutation ($id: ID!, $dimension: Int) { createSpace(id: $id, dimension: $dimension) { id } }', { id: space.id, dimension: space.dimension ?? null });
  }
  const seed = scenario.setup?.seed;
  if (seed === undefined || space === undefined) return;
  const count = seedCount ?? seed.count;
  const { spaces } = await graphql<{ spaces: { id: string; memoryCount: number }[] }>(url, '{ spaces { id memoryCount } }');
  const existing = spaces.find((s) => s.id === space.id)?.memoryCount ?? 0;
  if (existing >= count) {
    log(`${scenario.name}: space ${space.id} already holds ${existing} memories; not seeding`);
    return;
  }
  const vectors = clusteredVectors({ count, dimension: seed.dimension, clusters: seed.clusters, seed: seed.seed, ...(seed.spread === undefined ? {} : { spread: seed.spread }) });
  const embedding = (i: number): number[] => Array.from(vectors.subarray(i * seed.dimension, (i + 1) * seed.dimension), (x) => Math.round(x * 1e5) / 1e5);
  const started = performance.now();
  if (node !== undefined) {
    log(`${scenario.name}: seeding ${count} memories into ${space.id} through the in-process engine`);
    await timedLoop(count, 64, (i) => node.engine.remember(space.id, { id: `seed-${i}`, content: `seeded memory ${i}`, embedding: embedding(i) }));
  } else {
    log(`${scenario.name}: seeding ${count} memories into ${space.id} through GraphQL (${seed.concurrency ?? 16} in flight)`);
    const mutation = 'mutation ($space: ID, $memory: MemoryInput!) { remember(space: $space, memory: $memory) { id } }';
    await timedLoop(count, seed.concurrency ?? 16, (i) =>
      graphql(url, mutation, { space: space.id, memory: { id: `seed-${i}`, content: `seeded memory ${i}`, embedding: embedding(i) } }),
    );
  }
  log(`${scenario.name}: seeded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

// ---- main ------------------------------------------------------------------------------

interface ScenarioOutcome {
  name: string;
  connections: number;
  duration: number;
  result: HttpLoadResult;
  thresholds: ThresholdResult[];
}

function renderOutcomes(outcomes: readonly ScenarioOutcome[], url: string): string {
  const header = ['scenario', 'conns', 'dur', 'req/s', 'p50', 'p90', 'p99', 'max', 'requests', 'failed (non2xx/gql/socket/timeout)', 'thresholds'];
  const rows = outcomes.map((o) => {
    const r = o.result;
    const thresholds = o.thresholds
      .map((t) => `${t.pass === undefined ? 'N/A ' : t.pass ? 'PASS' : 'MISS'} ${t.metric} ${t.expression} (${formatNumber(t.actual)})`)
      .join('; ');
    return [
      o.name,
      String(o.connections),
      `${o.duration}s`,
      formatNumber(r.requestsPerSecond),
      formatNumber(r.latencyMs.p50, 'ms'),
      formatNumber(r.latencyMs.p90, 'ms'),
      formatNumber(r.latencyMs.p99, 'ms'),
      formatNumber(r.latencyMs.max, 'ms'),
      String(r.requests),
      `${r.failed} (${r.non2xx}/${r.graphqlErrors + r.badBodies}/${r.socketErrors}/${r.timeouts})`,
      thresholds,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i >= 1 && i <= 8 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join(' | ')
      .trimEnd();
  const errors = outcomes.filter((o) => o.result.firstError !== undefined).map((o) => `  ${o.name}: first error: ${o.result.firstError}`);
  return [`target ${url}`, line(header), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map(line), ...errors].join('\n');
}

async function main(): Promise<number> {
  setLogPrefix('load');
  const args = parseArgs(process.argv.slice(2));
  const file = JSON.parse(readFileSync(new URL('./scenarios.json', import.meta.url), 'utf8')) as ScenarioFile;
  const unknown = (args.only ?? []).filter((name) => !file.scenarios.some((s) => s.name === name));
  if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${file.scenarios.map((s) => s.name).join(', ')}`);
  const scenarios = file.scenarios.filter((s) => args.only === undefined || args.only.includes(s.name));

  const cleanup = new Cleanup();
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: cleaning up`);
    void cleanup.runAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const outcomes: ScenarioOutcome[] = [];
  let url = args.url;
  try {
    let node: EngramNode | undefined;
    if (url === undefined) {
      node = (await startTempNode(cleanup, 'load')).node;
      url = node.url;
      log(`no ENGRAM_URL: started a temporary node at ${url}`);
    }
    for (const scenario of scenarios) {
      await setupScenario(scenario, url, node, args.seedCount);
      const connections = args.connections ?? scenario.connections;
      const duration = args.duration ?? scenario.duration;
      log(`${scenario.name}: ${connections} connections, ${duration}s`);
      const body: BodySpec = { query: scenario.query, variables: scenario.variables ?? {} };
      const result = await runHttpLoad({ url, connections, duration, warmup: { duration: Math.min(1, duration / 5) }, body });
      const thresholds = Object.entries(scenario.thresholds ?? {}).flatMap(([metric, expressions]) => expressions.map((e) => evaluateThreshold(metric, e, result)));
      outcomes.push({ name: scenario.name, connections, duration, result, thresholds });
    }
  } finally {
    await cleanup.runAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  if (args.json) {
    process.stdout.write(`${JSON.stringify({ url, scenarios: outcomes }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  } else {
    process.stdout.write(`\n${renderOutcomes(outcomes, url ?? '?')}\n`);
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
