// The local runner behind `npm run load` (load/run.ts), also used by the integration test.
// planScenario() (load/scenarioPlan.js, the code the k6 scripts plan with) turns a scenario
// of load/scenarios.json into VUs, rates and stages, and runScenario() drives it with
// bench/httpLoad.ts in a worker thread: closed loop through autocannon, open loop (arrival
// rates, stages back to back, an exact weighted mix of request kinds) through its paced
// sender. Every request is kept, so figures come out overall and per request kind
// and stage, and thresholds with a {name:...} or {stage:...} tag are evaluated as k6 would.

import { readFileSync } from 'node:fs';
import type { BodySpec } from '../bench/bodies.js';
import { runHttpLoad, SAMPLE_OUTCOMES, type HttpLoadOptions, type HttpLoadResult, type HttpLoadSamples } from '../bench/httpLoad.js';
import { formatNumber } from '../bench/report.js';
import { Cleanup, graphql, log, startTempNode, timedLoop } from '../bench/support.js';
import type { EngramNode } from '../src/server/app.js';
import { clusteredVectors } from '../test/support/clusteredVectors.js';
import { planScenario, setupScenarios, stageRates, type Plan, type PlanOverrides, type Scenario, type ScenarioFile } from './scenarioPlan.js';

export { parseDuration, planScenario, type Plan, type PlannedRequest, type PlanOverrides, type Scenario, type ScenarioFile } from './scenarioPlan.js';

export function loadScenarioFile(): ScenarioFile {
  return JSON.parse(readFileSync(new URL('./scenarios.json', import.meta.url), 'utf8')) as ScenarioFile;
}

// ---- setup and seeding -----------------------------------------------------------------

export interface Target {
  url: string;
  /** An in-process node: seeding goes through its engine instead of GraphQL. */
  node?: EngramNode;
}

async function setupScenario(scenario: Scenario, target: Target, seedCount: number | undefined): Promise<void> {
  const { url, node } = target;
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

async function setupPlan(plan: Plan, target: Target, seedCount: number | undefined): Promise<void> {
  for (const scenario of setupScenarios(plan)) await setupScenario(scenario, target, seedCount);
}

// ---- figures ---------------------------------------------------------------------------

export interface LatencyStats {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

export interface ErrorCounts {
  /** Every failed request. */
  total: number;
  non2xx: number;
  /** GraphQL `errors`, or a body without `data`. */
  graphql: number;
  socket: number;
  timeout: number;
}

export interface Stats {
  /** Responses received (any status). */
  requests: number;
  requestsPerSecond: number;
  latencyMs: LatencyStats;
  errors: ErrorCounts;
}

export interface Breakdown extends Stats {
  by: 'name' | 'stage';
  key: string;
  /** Seconds covered: a stage's length, or the whole run. */
  duration: number;
  /** Planned requests per second (open loop). */
  offeredRate: number | undefined;
}

export interface ThresholdResult {
  metric: string;
  expression: string;
  actual: number;
  /** undefined: a metric or statistic the local runner does not measure. */
  pass: boolean | undefined;
}

export interface ScenarioOutcome extends Stats {
  name: string;
  mode: 'closed' | 'open';
  /** Closed loop: connections; open loop: most connections in flight. */
  connections: number;
  duration: number;
  /** Planned requests per second of each stage (open loop). */
  offeredRates: number[] | undefined;
  breakdown: Breakdown[];
  thresholds: ThresholdResult[];
  firstError: string | undefined;
}

const OUTCOME = Object.fromEntries(SAMPLE_OUTCOMES.map((name, i) => [name, i])) as Record<(typeof SAMPLE_OUTCOMES)[number], number>;

/** Nearest-rank percentile of sorted samples. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

interface Selection {
  /** Response latencies, sorted. */
  sorted: Float64Array;
  errors: ErrorCounts;
}

function select(samples: HttpLoadSamples, keep: (i: number) => boolean): Selection {
  const latencies: number[] = [];
  const errors: ErrorCounts = { total: 0, non2xx: 0, graphql: 0, socket: 0, timeout: 0 };
  for (let i = 0; i < samples.outcome.length; i++) {
    if (!keep(i)) continue;
    const outcome = samples.outcome[i]!;
    if (outcome === OUTCOME.socketError) errors.socket++;
    else if (outcome === OUTCOME.timeout) errors.timeout++;
    else {
      latencies.push(samples.latencyMs[i]!);
      if (outcome === OUTCOME.non2xx) errors.non2xx++;
      else if (outcome === OUTCOME.graphqlError || outcome === OUTCOME.badBody) errors.graphql++;
    }
  }
  errors.total = errors.non2xx + errors.graphql + errors.socket + errors.timeout;
  return { sorted: Float64Array.from(latencies).sort(), errors };
}

function statsOf(selection: Selection, seconds: number): Stats {
  const { sorted, errors } = selection;
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i]!;
  return {
    requests: sorted.length,
    requestsPerSecond: sorted.length / seconds,
    latencyMs: {
      count: sorted.length,
      mean: sorted.length === 0 ? NaN : sum / sorted.length,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      max: sorted.length === 0 ? NaN : sorted[sorted.length - 1]!,
    },
    errors,
  };
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

/** The k6 threshold subset scenarios.json uses, on the selected requests (k6 counts failed requests too). */
function evaluateThreshold(key: string, expression: string, plan: Plan, samples: HttpLoadSamples, overall: Selection, seconds: number): ThresholdResult {
  const unknown: ThresholdResult = { metric: key, expression, actual: NaN, pass: undefined };
  const tagged = /^([a-z_]+)(?:\{([^}]*)\})?$/.exec(key.trim());
  const match = /^\s*([a-z]+(?:\(\s*[\d.]+\s*\))?)\s*(<=|>=|===|==|!=|<|>)\s*([\d.eE+-]+)\s*$/.exec(expression);
  if (tagged === null || match === null) return unknown;
  const metric = tagged[1]!;
  let selection = overall;
  let span = seconds;
  if (tagged[2] !== undefined) {
    const filters: ((i: number) => boolean)[] = [];
    for (const pair of tagged[2].split(',')) {
      const [tag, value] = pair.split(':').map((x) => x.trim()) as [string, string | undefined];
      if (tag === 'name') {
        const index = plan.requests.findIndex((r) => r.name === value);
        filters.push((i) => samples.body[i] === index);
      } else if (tag === 'stage') {
        const index = plan.stages.findIndex((st) => st.name === value);
        filters.push((i) => samples.stage[i] === index);
        if (index >= 0) span = plan.stages[index]!.duration;
      } else {
        return unknown;
      }
    }
    selection = select(samples, (i) => filters.every((f) => f(i)));
  }
  const [, stat, op, rawLimit] = match as unknown as [string, string, string, string];
  const limit = Number(rawLimit);
  const { sorted, errors } = selection;
  const attempts = Math.max(1, sorted.length + errors.socket + errors.timeout);
  let actual: number;
  if (metric === 'http_req_duration') {
    const p = /^p\(\s*([\d.]+)\s*\)$/.exec(stat);
    if (p !== null) actual = percentile(sorted, Number(p[1]));
    else if (stat === 'med') actual = percentile(sorted, 50);
    else if (stat === 'avg') actual = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
    else if (stat === 'min') actual = sorted.length === 0 ? NaN : sorted[0]!;
    else if (stat === 'max') actual = sorted.length === 0 ? NaN : sorted[sorted.length - 1]!;
    else actual = NaN;
  } else if (metric === 'http_req_failed' && stat === 'rate') {
    actual = (errors.non2xx + errors.socket + errors.timeout) / attempts;
  } else if (metric === 'graphql_errors' && stat === 'rate') {
    actual = errors.graphql / attempts;
  } else if (metric === 'http_reqs') {
    actual = stat === 'rate' ? sorted.length / span : stat === 'count' ? sorted.length : NaN;
  } else {
    return unknown;
  }
  return { metric: key, expression, actual, pass: Number.isNaN(actual) ? undefined : compare(actual, op, limit) };
}

function summarise(plan: Plan, connections: number, result: HttpLoadResult): ScenarioOutcome {
  const samples = result.samples;
  if (samples === undefined) throw new Error('load worker returned no samples');
  const overall = select(samples, () => true);
  // autocannon reports socket errors without the request, so they only reach the totals.
  if (plan.mode === 'closed') {
    overall.errors.socket = result.socketErrors;
    overall.errors.timeout = result.timeouts;
    overall.errors.total = overall.errors.non2xx + overall.errors.graphql + overall.errors.socket + overall.errors.timeout;
  }
  const seconds = Number.isFinite(result.wallSeconds) ? result.wallSeconds : plan.duration;
  const rates = plan.mode === 'open' ? stageRates(plan) : undefined;
  const breakdown: Breakdown[] = [];
  if (plan.requests.length > 1) {
    plan.requests.forEach((request, index) => {
      const offered = rates === undefined ? undefined : plan.stages.reduce((sum, st, k) => sum + st.duration * request.rates[k]!, 0) / plan.duration;
      breakdown.push({ by: 'name', key: request.name, duration: plan.duration, offeredRate: offered, ...statsOf(select(samples, (i) => samples.body[i] === index), seconds) });
    });
  }
  if (plan.stages.length > 1) {
    plan.stages.forEach((stage, index) => {
      breakdown.push({ by: 'stage', key: stage.name, duration: stage.duration, offeredRate: rates?.[index], ...statsOf(select(samples, (i) => samples.stage[i] === index), stage.duration) });
    });
  }
  const thresholds = Object.entries(plan.scenario.thresholds ?? {}).flatMap(([metric, expressions]) =>
    expressions.map((e) => evaluateThreshold(metric, e, plan, samples, overall, seconds)),
  );
  return {
    name: plan.scenario.name,
    mode: plan.mode,
    connections,
    duration: plan.duration,
    offeredRates: rates,
    ...statsOf(overall, seconds),
    breakdown,
    thresholds,
    firstError: result.firstError,
  };
}

// ---- running ---------------------------------------------------------------------------

export interface RunOptions extends PlanOverrides {
  /** Seeded memories for scenarios with `setup.seed` (default: the definition's count). */
  seedCount?: number;
  /** Defaults to load/scenarios.json. */
  file?: ScenarioFile;
}

function bodyOf(scenario: Scenario): BodySpec {
  return { query: scenario.query!, variables: scenario.variables ?? {} };
}

/**
 * Runs one scenario against `target` (creating and seeding its spaces first) and returns its
 * figures. Open-loop scenarios run all their stages in one worker, back to back.
 */
export async function runScenario(name: string, target: Target, options: RunOptions = {}): Promise<ScenarioOutcome> {
  const plan = planScenario(options.file ?? loadScenarioFile(), name, options);
  await setupPlan(plan, target, options.seedCount);
  const requests = plan.requests.length === 1 ? { body: bodyOf(plan.requests[0]!.scenario) } : { mix: plan.requests.map((r) => ({ body: bodyOf(r.scenario), weight: r.weight })) };
  const warmup = { duration: Math.min(1, plan.duration / 5) };
  let load: HttpLoadOptions;
  let connections: number;
  if (plan.mode === 'closed') {
    connections = plan.requests[0]!.vus;
    log(`${name}: ${connections} connections, ${formatNumber(plan.duration)}s`);
    load = { url: target.url, connections, duration: plan.duration, warmup, ...requests, keepSamples: true };
  } else {
    // Each k6 VU holds one connection, so the most requests in flight is the sum of maxVUs.
    connections = plan.requests.reduce((sum, r) => sum + r.maxVUs, 0);
    const rates = stageRates(plan);
    log(`${name}: ${plan.stages.map((st, k) => `${st.name} ${formatNumber(rates[k]!)}/s for ${formatNumber(st.duration)}s`).join(', ')}; up to ${connections} connections`);
    load = { url: target.url, connections, stages: plan.stages.map((st, k) => ({ duration: st.duration, rate: rates[k]! })), warmup, ...requests, keepSamples: true };
  }
  return summarise(plan, connections, await runHttpLoad(load));
}

/**
 * Runs `body` against `url`, or, without one, against a node started in-process on a fresh
 * temporary data directory, which is closed and removed afterwards, even on failure.
 */
export async function withTarget<T>(url: string | undefined, body: (target: Target) => Promise<T>, options: { trapSignals?: boolean } = {}): Promise<T> {
  if (url !== undefined) return body({ url });
  const cleanup = new Cleanup();
  const release = options.trapSignals === true ? cleanup.trapSignals() : () => {};
  try {
    const { node } = await startTempNode(cleanup, 'load');
    log(`no ENGRAM_URL: started a temporary node at ${node.url}`);
    return await body({ url: node.url, node });
  } finally {
    await cleanup.runAll();
    release();
  }
}

// ---- report ----------------------------------------------------------------------------

function loadColumn(o: ScenarioOutcome): string {
  if (o.offeredRates === undefined) return `closed, ${o.connections} conns`;
  return `${o.offeredRates.map((r) => formatNumber(r)).join(' > ')}/s open, <=${o.connections} conns`;
}

function errorsColumn(e: ErrorCounts): string {
  return `${e.total} (${e.non2xx}/${e.graphql}/${e.socket}/${e.timeout})`;
}

/** The text report: one row per scenario, indented rows per request kind and stage, then thresholds. */
export function renderOutcomes(outcomes: readonly ScenarioOutcome[], url: string): string {
  const header = ['scenario', 'load', 'dur', 'req/s', 'p50', 'p95', 'p99', 'max', 'requests', 'errors (non2xx/gql/socket/timeout)'];
  const row = (label: string, load: string, duration: number, s: Stats): string[] => [
    label,
    load,
    `${formatNumber(duration)}s`,
    formatNumber(s.requestsPerSecond),
    formatNumber(s.latencyMs.p50, 'ms'),
    formatNumber(s.latencyMs.p95, 'ms'),
    formatNumber(s.latencyMs.p99, 'ms'),
    formatNumber(s.latencyMs.max, 'ms'),
    String(s.requests),
    errorsColumn(s.errors),
  ];
  const rows = outcomes.flatMap((o) => [
    row(o.name, loadColumn(o), o.duration, o),
    ...o.breakdown.map((b) => row(`  ${b.by}=${b.key}`, b.offeredRate === undefined ? '' : `${formatNumber(b.offeredRate)}/s`, b.duration, b)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i >= 2 && i <= 8 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join(' | ')
      .trimEnd();
  const thresholds = outcomes.flatMap((o) =>
    o.thresholds.map((t) => `  ${o.name.padEnd(10)} ${t.pass === undefined ? 'N/A ' : t.pass ? 'PASS' : 'MISS'} ${t.metric} ${t.expression} (${formatNumber(t.actual)})`),
  );
  const errors = outcomes.filter((o) => o.firstError !== undefined).map((o) => `  ${o.name}: first error: ${o.firstError}`);
  return [
    `target ${url}`,
    line(header),
    widths.map((w) => '-'.repeat(w)).join('-+-'),
    ...rows.map(line),
    '',
    'thresholds (k6 syntax, from load/scenarios.json)',
    ...thresholds,
    ...(errors.length > 0 ? ['', ...errors] : []),
  ].join('\n');
}
