// Load scenarios: the k6 scripts typecheck against @types/k6, take every request, rate, stage
// and threshold from load/scenarios.json (planned exactly as the local runner plans them),
// and the local runner runs every scenario and reports consistent figures.
// k6 itself is not installed here: the scripts are imported with its modules stubbed.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadScenarioFile, planScenario, runScenario, withTarget, type Plan, type ScenarioOutcome } from '../../load/runner.js';
import { repoRoot } from '../support/node.js';

interface Posted {
  query: string;
  variables: unknown;
  tags: Record<string, string>;
}

const k6 = vi.hoisted(() => ({ posts: [] as Posted[], executor: '' }));

vi.mock('k6', () => ({
  check: () => true,
  fail: (message?: string) => {
    throw new Error(message);
  },
}));
vi.mock('k6/metrics', () => ({ Rate: class { add(): void {} } }));
vi.mock('k6/execution', () => ({
  default: {
    scenario: {
      get name() {
        return k6.executor;
      },
      startTime: Date.now(),
      iterationInTest: 0,
    },
  },
}));
vi.mock('k6/http', () => ({
  default: {
    post: (_url: string, body: string, params: { tags: Record<string, string> }) => {
      const parsed = JSON.parse(body) as { query: string; variables: unknown };
      k6.posts.push({ query: parsed.query, variables: parsed.variables, tags: params.tags });
      const answer = { data: { recall: { memories: [{ score: 1 }] } } };
      return { status: 200, body: JSON.stringify(answer), json: () => answer };
    },
  },
}));

const LOAD = join(repoRoot, 'load');
const SCRIPTS = readdirSync(LOAD).filter((f) => /^k6-.*\.js$/.test(f) && f !== 'k6-lib.js');

interface K6Scenario {
  executor: string;
  vus?: number;
  duration?: string;
  rate?: number;
  startRate?: number;
  timeUnit?: string;
  stages?: { duration: string; target: number }[];
  preAllocatedVUs?: number;
  maxVUs?: number;
}

interface K6Script {
  options: { scenarios: Record<string, K6Scenario>; thresholds: Record<string, string[]> };
  setup: () => void;
  default: () => void;
}

function seconds(duration: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(duration);
  if (match === null) throw new Error(`unexpected k6 duration ${duration}`);
  return Number(match[1]) / (match[2] === 'ms' ? 1000 : 1);
}

/** The held (duration s, rate /s) segments of one k6 executor. */
function k6Segments(s: K6Scenario): { duration: number; rate: number }[] {
  const per = s.timeUnit === '1m' ? 60 : 1;
  if (s.executor === 'constant-arrival-rate') return [{ duration: seconds(s.duration!), rate: s.rate! / per }];
  expect(s.executor).toBe('ramping-arrival-rate');
  let rate = s.startRate! / per;
  const held: { duration: number; rate: number }[] = [];
  for (const stage of s.stages!) {
    const target = stage.target / per;
    if (seconds(stage.duration) === 0) rate = target;
    else {
      expect(target, 'stages are held: a stage ends at the rate it started with').toBe(rate);
      held.push({ duration: seconds(stage.duration), rate });
    }
  }
  return held;
}

/** Checks one script's k6 options against the local runner's plan of the same scenario. */
function expectSamePlan(options: K6Script['options'], plan: Plan): void {
  if (plan.mode === 'closed') {
    expect(Object.keys(options.scenarios)).toEqual([plan.scenario.name]);
    const s = options.scenarios[plan.scenario.name]!;
    expect(s.executor).toBe('constant-vus');
    expect(s.vus).toBe(plan.requests[0]!.vus);
    expect(seconds(s.duration!)).toBeCloseTo(plan.duration, 3);
    return;
  }
  const names = plan.requests.map((r) => (plan.requests.length === 1 ? plan.scenario.name : `${plan.scenario.name}-${r.name}`));
  expect(Object.keys(options.scenarios).sort()).toEqual([...names].sort());
  plan.requests.forEach((request, i) => {
    const s = options.scenarios[names[i]!]!;
    expect(s.preAllocatedVUs).toBe(request.vus);
    expect(s.maxVUs).toBe(request.maxVUs);
    const segments = k6Segments(s);
    expect(segments).toHaveLength(plan.stages.length);
    segments.forEach((segment, k) => {
      expect(segment.duration).toBeCloseTo(plan.stages[k]!.duration, 3);
      // k6 takes whole iterations per time unit (a second, or a minute for fractional rates).
      expect(Math.abs(segment.rate - request.rates[k]!)).toBeLessThanOrEqual(1 / 60);
    });
  });
}

describe('load scenarios', () => {
  const file = loadScenarioFile();
  const scenarioNames = file.scenarios.map((s) => s.name);

  it('k6Scripts_typecheckAgainstTypesK6', async () => {
    const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
    const result = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(process.execPath, [tsc, '-p', 'load/tsconfig.json'], { cwd: repoRoot }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, output: `${stdout}${stderr}` }),
      );
    });
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
    // The root project (Node types) reads the shared modules' JSDoc types but must leave
    // checking the k6 scripts to load/tsconfig.json.
    const root = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.json'), 'utf8')) as { compilerOptions: { checkJs?: boolean }; include: string[] };
    expect(root.compilerOptions.checkJs ?? false).toBe(false);
    expect(root.include.filter((pattern) => pattern.startsWith('load')).every((pattern) => pattern.endsWith('.ts'))).toBe(true);
  }, 60_000);

  it('sharedModules_importNothing_soK6AndNodeLoadTheSameCode', () => {
    for (const shared of ['scenarioPlan.js', 'seededVectors.js']) {
      const source = readFileSync(join(LOAD, shared), 'utf8');
      expect(source.startsWith('// @ts-check'), `${shared} is typechecked`).toBe(true);
      expect(source, `${shared} has no imports`).not.toMatch(/^\s*import\s/m);
    }
  });

  describe('with k6 stubbed', () => {
    const globals = globalThis as Record<string, unknown>;
    beforeAll(() => {
      globals['open'] = (path: string) => readFileSync(join(LOAD, path), 'utf8');
      globals['__ENV'] = {};
      globals['__VU'] = 1;
    });
    afterAll(() => {
      for (const name of ['open', '__ENV', '__VU']) delete globals[name];
    });

    it('everyK6Script_usesOnlyScenariosFromTheSharedDefinitions', async () => {
      expect(SCRIPTS.sort()).toEqual(expect.arrayContaining(['k6-mixed.js', 'k6-recall.js', 'k6-remember.js', 'k6-spike.js']));
      const covered: string[] = [];
      for (const script of SCRIPTS) {
        const source = readFileSync(join(LOAD, script), 'utf8');
        expect(source.startsWith('// @ts-check'), `${script} is typechecked`).toBe(true);
        // Queries live in scenarios.json only.
        expect(source, `${script} has no GraphQL of its own`).not.toMatch(/\b(mutation|query)\s*[({A-Z]/);
        const module = (await import(pathToFileURL(join(LOAD, script)).href)) as K6Script;
        const executors = Object.keys(module.options.scenarios);
        const name = scenarioNames.find((n) => executors.includes(n) || executors.every((e) => e.startsWith(`${n}-`)));
        expect(name, `${script}: k6 scenarios ${executors.join(', ')} come from scenarios.json`).toBeDefined();
        covered.push(name!);
        const plan = planScenario(file, name!);
        expectSamePlan(module.options, plan);

        const thresholds = module.options.thresholds;
        expect(thresholds, `${script} has thresholds`).toMatchObject(plan.scenario.thresholds ?? {});
        for (const metric of ['http_req_failed', 'graphql_errors']) expect(thresholds[metric], `${script}: ${metric}`).toBeDefined();
        expect(thresholds['checks']).toEqual(['rate==1']);
        if (name !== 'typename') expect(Object.keys(thresholds).some((m) => m.startsWith('http_req_duration')), `${script}: latency threshold`).toBe(true);
        for (const [metric, expressions] of Object.entries(thresholds)) {
          const tag = /\{(name|stage):([^}]+)\}/.exec(metric);
          if (tag?.[1] === 'name') expect(plan.requests.map((r) => r.name)).toContain(tag[2]);
          if (tag?.[1] === 'stage') expect(plan.stages.map((s) => s.name)).toContain(tag[2]);
          expect(expressions.length).toBeGreaterThan(0);
        }

        // Every request an iteration sends is a scenarios.json query with its `$gen` hints rendered.
        k6.posts.length = 0;
        for (const executor of executors) {
          k6.executor = executor;
          for (let i = 0; i < 5; i++) module.default();
        }
        expect(k6.posts.length).toBe(executors.length * 5);
        for (const post of k6.posts) {
          const request = plan.requests.find((r) => r.name === post.tags['name']);
          expect(request, `${script}: request tagged ${post.tags['name']}`).toBeDefined();
          expect(post.query).toBe(request!.scenario.query);
          expect(JSON.stringify(post.variables)).not.toContain('$gen');
          expect(plan.stages.map((s) => s.name)).toContain(post.tags['stage']);
        }
        expect(new Set(k6.posts.map((p) => p.tags['name']))).toEqual(new Set(plan.requests.map((r) => r.name)));
      }
      expect(covered).toEqual(expect.arrayContaining(['remember', 'recall', 'mixed', 'spike']));
    });
  });

  it('localRunner_runsEachScenarioBriefly_andReportsLatencyPercentiles', async () => {
    const outcomes = await withTarget(undefined, async (target) => {
      const out: ScenarioOutcome[] = [];
      // One second each, half the rates, a smaller recall data set: the whole run stays well under 30 s.
      for (const name of scenarioNames) out.push(await runScenario(name, target, { file, duration: 1, rateScale: 0.5, seedCount: 500 }));
      return out;
    });
    expect(outcomes.map((o) => o.name)).toEqual(scenarioNames);
    for (const o of outcomes) {
      const figures = [o, ...o.breakdown];
      for (const f of figures) {
        const label = 'key' in f ? `${o.name} ${f.by}=${f.key}` : o.name;
        expect(f.requests, label).toBeGreaterThan(0);
        expect(f.requestsPerSecond, label).toBeGreaterThan(0);
        expect(f.latencyMs.p50, label).toBeGreaterThan(0);
        expect(f.latencyMs.p50, label).toBeLessThanOrEqual(f.latencyMs.p95);
        expect(f.latencyMs.p95, label).toBeLessThanOrEqual(f.latencyMs.p99);
        expect(f.latencyMs.p99, label).toBeLessThanOrEqual(f.latencyMs.max);
        expect(f.errors, label).toEqual({ total: 0, non2xx: 0, graphql: 0, socket: 0, timeout: 0 });
      }
      expect(o.thresholds.length, o.name).toBeGreaterThan(0);
      const plan = planScenario(file, o.name, { duration: 1, rateScale: 0.5 });
      if (plan.mode === 'open') {
        // Open loop: every planned request was sent and answered, in the planned mix.
        const planned = plan.stages.reduce((sum, st, k) => sum + st.duration * plan.requests.reduce((r, q) => r + q.rates[k]!, 0), 0);
        expect(Math.abs(o.requests - planned), o.name).toBeLessThanOrEqual(1);
        for (const b of o.breakdown.filter((x) => x.by === 'name')) {
          const share = plan.requests.find((r) => r.name === b.key)!.weight / plan.requests.reduce((sum, r) => sum + r.weight, 0);
          expect(Math.abs(b.requests - share * o.requests), `${o.name} ${b.key}`).toBeLessThanOrEqual(1);
        }
        expect(o.breakdown.filter((x) => x.by === 'stage').map((x) => x.key)).toEqual(plan.stages.length > 1 ? plan.stages.map((s) => s.name) : []);
      }
    }
  }, 60_000);
});
