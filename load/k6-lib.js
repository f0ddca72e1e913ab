// @ts-check
// Shared helpers for load/k6-*.js: plain k6 JavaScript (no Node APIs), typechecked against
// @types/k6 by load/tsconfig.json.
// - scenarios.json is the one definition of every scenario; load/scenarioPlan.js plans it
//   (the same code plans the local runner's load) and optionsFor() turns the plan into k6
//   executors.
// - Vectors come from load/seededVectors.js, the generator the tests and the local runner
//   use, so memories seeded here are the same ones load/run.ts seeds, and cues fall around
//   the same cluster centres.
// - `$gen` hints in scenarios.json variables are rendered per request, like bench/bodies.ts.
// - Every response is checked for a 2xx status AND an absent GraphQL `errors` array.

import http from 'k6/http';
import { check, fail } from 'k6';
import exec from 'k6/execution';
import { Rate } from 'k6/metrics';
import { parseDuration, planScenario, setupScenarios, weightedRoundRobin } from './scenarioPlan.js';
import { clusterCentres, gaussian, mulberry32, normaliseInPlace, pointStream } from './seededVectors.js';

/**
 * @typedef {import('./scenarioPlan.js').Scenario} Scenario
 * @typedef {import('./scenarioPlan.js').ScenarioFile} ScenarioFile
 * @typedef {import('./scenarioPlan.js').Plan} Plan
 * @typedef {import('./scenarioPlan.js').PlannedRequest} PlannedRequest
 * @typedef {{ VUS?: string, DURATION?: string, RATE_SCALE?: string }} PlanEnv
 */

export const graphqlErrors = new Rate('graphql_errors');

/** @type {ScenarioFile} */
const config = JSON.parse(open('./scenarios.json'));

export function targetUrl() {
  return __ENV.ENGRAM_URL || 'http://127.0.0.1:4000/graphql';
}

/**
 * @param {string | undefined} raw
 * @param {string} what
 */
function positive(raw, what) {
  const value = Number(raw);
  if (!(value > 0)) throw new Error(what + ' must be a positive number, got ' + raw);
  return value;
}

/**
 * The plan of the scenario named `name` (load/scenarioPlan.js). VUS, DURATION ("30s", "2m",
 * seconds) and RATE_SCALE override the definition; DURATION scales every stage in proportion.
 * @param {string} name
 * @param {PlanEnv} [env]
 * @returns {Plan}
 */
export function planFor(name, env) {
  const e = env || /** @type {PlanEnv} */ (__ENV);
  /** @type {import('./scenarioPlan.js').PlanOverrides} */
  const overrides = {};
  if (e.VUS) overrides.connections = Math.floor(positive(e.VUS, 'VUS'));
  if (e.RATE_SCALE) overrides.rateScale = positive(e.RATE_SCALE, 'RATE_SCALE');
  if (e.DURATION) overrides.duration = parseDuration(e.DURATION);
  return planScenario(config, name, overrides);
}

/**
 * k6 scenario name of one request kind of an open-loop plan (k6 runs one executor per kind).
 * @param {Plan} plan
 * @param {PlannedRequest} request
 */
export function executorName(plan, request) {
  return plan.requests.length === 1 ? plan.scenario.name : plan.scenario.name + '-' + request.name;
}

/**
 * k6 takes whole iterations per time unit: per second when every rate is whole, else per minute.
 * @param {number[]} rates
 */
function timeUnitFor(rates) {
  return rates.every((r) => Number.isInteger(r)) ? { unit: '1s', per: 1 } : { unit: '1m', per: 60 };
}

/**
 * k6 options: constant-vus (closed loop), constant-arrival-rate (one open stage) or
 * ramping-arrival-rate (stages; each held, with 0 s stages as instant jumps). Thresholds come
 * from scenarios.json plus `checks: rate==1`.
 * @param {Plan} plan
 * @returns {import('k6/options').Options}
 */
export function optionsFor(plan) {
  /** @type {Record<string, import('k6/options').Scenario>} */
  const scenarios = {};
  if (plan.mode === 'closed') {
    scenarios[plan.scenario.name] = { executor: 'constant-vus', vus: plan.requests[0].vus, duration: seconds(plan.duration), gracefulStop: '5s' };
  } else {
    for (const request of plan.requests) {
      const time = timeUnitFor(request.rates);
      const rates = request.rates.map((r) => Math.max(1, Math.round(r * time.per)));
      const name = executorName(plan, request);
      if (rates.length === 1) {
        scenarios[name] = {
          executor: 'constant-arrival-rate',
          rate: rates[0],
          timeUnit: time.unit,
          duration: seconds(plan.duration),
          preAllocatedVUs: request.vus,
          maxVUs: request.maxVUs,
          gracefulStop: '5s',
        };
      } else {
        /** @type {import('k6/options').Stage[]} */
        const stages = [];
        plan.stages.forEach((st, k) => {
          if (k > 0 && rates[k] !== rates[k - 1]) stages.push({ duration: '0s', target: rates[k] });
          stages.push({ duration: seconds(st.duration), target: rates[k] });
        });
        scenarios[name] = {
          executor: 'ramping-arrival-rate',
          startRate: rates[0],
          timeUnit: time.unit,
          stages: stages,
          preAllocatedVUs: request.vus,
          maxVUs: request.maxVUs,
          gracefulStop: '5s',
        };
      }
    }
  }
  /** @type {Record<string, string[]>} */
  const thresholds = {};
  const defined = plan.scenario.thresholds || {};
  for (const metric of Object.keys(defined)) thresholds[metric] = defined[metric];
  thresholds.checks = ['rate==1'];
  return {
    scenarios: scenarios,
    thresholds: thresholds,
    setupTimeout: '600s',
    summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
  };
}

/** @param {number} s */
function seconds(s) {
  return Math.round(s * 1000) + 'ms';
}

// ---- one iteration ---------------------------------------------------------------------

/** @type {(() => number) | undefined} */
let nextInMix;

/**
 * The request kind of this iteration: by executor name in an open-loop plan; by smooth
 * weighted round robin per VU in a closed-loop mix (the choice the local runner makes too).
 * @param {Plan} plan
 * @returns {PlannedRequest}
 */
function requestFor(plan) {
  if (plan.requests.length === 1) return plan.requests[0];
  if (plan.mode === 'open') {
    for (const request of plan.requests) if (executorName(plan, request) === exec.scenario.name) return request;
    throw new Error('no request kind for k6 scenario ' + exec.scenario.name);
  }
  if (nextInMix === undefined) nextInMix = weightedRoundRobin(plan.requests.map((r) => r.weight));
  return plan.requests[nextInMix()];
}

/**
 * Name of the stage running now, for the `stage` tag.
 * @param {Plan} plan
 */
function stageNow(plan) {
  const elapsed = (Date.now() - exec.scenario.startTime) / 1000;
  let end = 0;
  for (const st of plan.stages) {
    end += st.duration;
    if (elapsed < end) return st.name;
  }
  return plan.stages[plan.stages.length - 1].name;
}

/**
 * One request of the plan, tagged `name` (request kind) and `stage`, so thresholds such as
 * `http_req_duration{name:recall}` or `{stage:recovery}` select them.
 * @param {Plan} plan
 * @param {string} url
 */
export function runIteration(plan, url) {
  const request = requestFor(plan);
  const query = /** @type {string} */ (request.scenario.query);
  const body = postGraphql(url, query, render(request.scenario.variables, exec.scenario.iterationInTest), { name: request.name, stage: stageNow(plan) });
  const data = body === null ? null : body.data;
  if (data && typeof data === 'object' && 'recall' in data) {
    const recall = /** @type {{ recall: { memories: unknown[] } }} */ (data).recall;
    check(recall, { 'recall returned memories': (r) => r.memories.length > 0 });
  }
}

/**
 * Creates the spaces of every request kind and seeds them (each space once).
 * @param {Plan} plan
 * @param {string} url
 */
export function setupPlan(plan, url) {
  for (const s of setupScenarios(plan)) setupScenario(s, url);
}

// ---- vectors ---------------------------------------------------------------------------

/** @type {Record<string, Float32Array>} */
const centresCache = {};

/**
 * @param {number} dimension
 * @param {number} clusters
 * @param {number} seed
 */
function centresFor(dimension, clusters, seed) {
  const key = dimension + '/' + clusters + '/' + seed;
  if (!centresCache[key]) centresCache[key] = clusterCentres({ dimension: dimension, clusters: clusters, seed: seed });
  return centresCache[key];
}

/** @param {ArrayLike<number>} v */
function rounded(v) {
  /** @type {number[]} */
  const out = new Array(v.length);
  for (let j = 0; j < v.length; j++) out[j] = Math.round(v[j] * 1e5) / 1e5;
  return out;
}

// ---- request bodies --------------------------------------------------------------------

const vuUniform = mulberry32(0x9e3779b9 ^ (typeof __VU === 'number' ? __VU * 7919 : 0));
const vuNormal = gaussian(vuUniform);

/** @param {Record<string, unknown>} hint */
function vectorFor(hint) {
  const dimension = Number(hint.dimension);
  const v = new Float32Array(dimension);
  const clusters = Number(hint.clusters || 0);
  if (clusters > 0) {
    const centres = centresFor(dimension, clusters, Number(hint.seed || 0));
    const c = Math.min(clusters - 1, Math.floor(vuUniform() * clusters)) * dimension;
    const sigma = (hint.spread === undefined ? 1 : Number(hint.spread)) / Math.sqrt(dimension);
    for (let j = 0; j < dimension; j++) v[j] = centres[c + j] + vuNormal() * sigma;
  } else {
    for (let j = 0; j < dimension; j++) v[j] = vuNormal();
  }
  normaliseInPlace(v, 0, dimension, vuNormal);
  return rounded(v);
}

function uuid() {
  const hex = '0123456789abcdef';
  let out = '';
  for (let i = 0; i < 32; i++) out += hex[Math.floor(Math.random() * 16)];
  return out.slice(0, 8) + '-' + out.slice(8, 12) + '-4' + out.slice(13, 16) + '-a' + out.slice(17, 20) + '-' + out.slice(20);
}

/**
 * Replaces every { "$gen": ... } in the template; `seq` numbers the requests.
 * @param {unknown} value
 * @param {number} seq
 * @returns {unknown}
 */
export function render(value, seq) {
  if (Array.isArray(value)) return value.map((v) => render(v, seq));
  if (value !== null && typeof value === 'object') {
    const object = /** @type {Record<string, unknown>} */ (value);
    if (typeof object.$gen === 'string') {
      switch (object.$gen) {
        case 'vector':
          return vectorFor(object);
        case 'text':
          return (object.prefix || 'load memory') + ' #' + seq + ' vu' + __VU + '-' + Math.floor(vuUniform() * 1e9).toString(36);
        case 'uuid':
          return uuid();
        default:
          throw new Error('unsupported $gen ' + object.$gen + ' in k6 (poolVector is bench-only)');
      }
    }
    /** @type {Record<string, unknown>} */
    const out = {};
    for (const key of Object.keys(object)) out[key] = render(object[key], seq);
    return out;
  }
  return value;
}

const JSON_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json' };

/**
 * @typedef {{ data?: unknown, errors?: { message?: string }[] }} GraphqlBody
 */

/**
 * @param {import('k6/http').RefinedResponse<import('k6/http').ResponseType | undefined>} res
 * @returns {GraphqlBody | null}
 */
function parseBody(res) {
  try {
    const body = res.json();
    return body !== null && typeof body === 'object' && !Array.isArray(body) ? /** @type {GraphqlBody} */ (body) : null;
  } catch (e) {
    return null;
  }
}

/**
 * Posts one GraphQL request and records status and GraphQL errors. Returns the parsed body or null.
 * @param {string} url
 * @param {string} query
 * @param {unknown} variables
 * @param {Record<string, string>} tags
 */
export function postGraphql(url, query, variables, tags) {
  const res = http.post(url, JSON.stringify({ query: query, variables: variables }), { headers: JSON_HEADERS, tags: tags });
  const body = parseBody(res);
  const hasErrors = body === null || (Array.isArray(body.errors) && body.errors.length > 0) || body.data == null;
  graphqlErrors.add(hasErrors, tags);
  check(res, {
    'status is 2xx': (r) => r.status >= 200 && r.status < 300,
    'no GraphQL errors': () => !hasErrors,
  });
  return body;
}

// ---- setup -----------------------------------------------------------------------------

/**
 * @param {import('k6/http').RefinedResponse<import('k6/http').ResponseType | undefined>} res
 * @param {string} what
 * @returns {Record<string, any>}
 */
function mustSucceed(res, what) {
  const body = parseBody(res);
  if (res.status < 200 || res.status >= 300 || body === null || (body.errors && body.errors.length > 0) || body.data == null) {
    fail(what + ' failed: HTTP ' + res.status + ' ' + String(res.body).slice(0, 300));
  }
  return /** @type {Record<string, any>} */ (body.data);
}

/**
 * Creates the scenario's space and seeds it (ids seed-0..seed-N-1, idempotent).
 * @param {Scenario} s
 * @param {string} url
 */
export function setupScenario(s, url) {
  const setup = s.setup || {};
  const space = setup.space;
  if (space) {
    mustSucceed(
      http.post(url, JSON.stringify({ query: 'mutation ($id: ID!, $dimension: Int) { createSpace(id: $id, dimension: $dimension) { id } }', variables: space }), { headers: JSON_HEADERS, tags: { name: 'setup' } }),
      'createSpace ' + space.id,
    );
  }
  const seed = setup.seed;
  if (!seed || !space) return;
  const count = Number(__ENV.SEED_COUNT || seed.count);
  const spaces = mustSucceed(http.post(url, JSON.stringify({ query: '{ spaces { id memoryCount } }' }), { headers: JSON_HEADERS, tags: { name: 'setup' } }), 'spaces');
  for (const sp of /** @type {{ id: string, memoryCount: number }[]} */ (spaces.spaces)) {
    if (sp.id === space.id && sp.memoryCount >= count) {
      console.log('space ' + sp.id + ' already holds ' + sp.memoryCount + ' memories; not seeding');
      return;
    }
  }
  const next = pointStream({ dimension: seed.dimension, clusters: seed.clusters, seed: seed.seed, spread: seed.spread, centres: centresFor(seed.dimension, seed.clusters, seed.seed) });
  const point = new Float32Array(seed.dimension);
  const query = 'mutation ($space: ID, $memory: MemoryInput!) { remember(space: $space, memory: $memory) { id } }';
  const batchSize = seed.concurrency || 16;
  for (let i = 0; i < count; i += batchSize) {
    /** @type {import('k6/http').BatchRequest[]} */
    const requests = [];
    for (let j = i; j < Math.min(count, i + batchSize); j++) {
      next(point, 0);
      const memory = { id: 'seed-' + j, content: 'seeded memory ' + j, embedding: rounded(point) };
      requests.push(['POST', url, JSON.stringify({ query: query, variables: { space: space.id, memory: memory } }), { headers: JSON_HEADERS, tags: { name: 'setup' } }]);
    }
    for (const res of http.batch(requests)) mustSucceed(res, 'seeding');
  }
  console.log('seeded ' + count + ' memories into ' + space.id);
}
