// @ts-check
// How a scenario of load/scenarios.json becomes load: VUs, request kinds with their weights,
// and stages with their rates. One implementation, used by the k6 scripts (load/k6-lib.js
// turns the plan into k6 executors) and by the local runner (load/runner.ts drives it with
// autocannon), so both put the same load on the server. Plain JavaScript with no k6 or Node
// imports, because k6 loads it as it is.

/**
 * @typedef {{ count: number, dimension: number, clusters: number, seed: number, spread?: number, concurrency?: number }} SeedSpec
 * @typedef {{ space?: { id: string, dimension?: number }, seed?: SeedSpec }} SetupSpec
 * @typedef {{ scenario: string, weight: number }} MixEntry
 * @typedef {{ name: string, duration: number, rate: number }} StageSpec
 * @typedef {object} Scenario
 * @property {string} name
 * @property {string} [description]
 * @property {SetupSpec} [setup]
 * @property {string} [query] GraphQL document; a scenario with a `mix` takes its requests from other scenarios
 * @property {unknown} [variables]
 * @property {MixEntry[]} [mix]
 * @property {number} [rate] open loop: requests per second over the whole mix
 * @property {StageSpec[]} [stages] open loop: stages held back to back; the jumps between them are instant
 * @property {number} connections VUs (closed loop) or pre-allocated VUs (open loop)
 * @property {number} [maxConnections] open loop: most VUs, so most requests in flight
 * @property {number} [duration] seconds, unless `stages` gives it
 * @property {Record<string, string[]>} [thresholds]
 * @typedef {{ description?: string, url?: string, scenarios: Scenario[] }} ScenarioFile
 * @typedef {object} PlanOverrides
 * @property {number} [duration] seconds; a staged scenario scales every stage in proportion (k6: DURATION)
 * @property {number} [connections] VUs or pre-allocated VUs (k6: VUS)
 * @property {number} [rateScale] multiplies every rate (k6: RATE_SCALE)
 * @typedef {object} PlannedRequest one request kind
 * @property {string} name
 * @property {Scenario} scenario the scenario whose query, variables and setup it uses
 * @property {number} weight as in `mix`
 * @property {number} vus
 * @property {number} maxVUs
 * @property {number[]} rates requests per second in each stage (open loop)
 * @typedef {object} Plan
 * @property {Scenario} scenario
 * @property {'closed' | 'open'} mode closed: constant VUs, each sending its next request when answered; open: arrival rate
 * @property {number} duration seconds
 * @property {{ name: string, duration: number }[]} stages
 * @property {PlannedRequest[]} requests
 */

/**
 * Seconds from "30s", "2m", "1h", "500ms" or a plain number of seconds.
 * @param {string | number} raw
 * @returns {number}
 */
export function parseDuration(raw) {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(String(raw));
  const value = match === null ? NaN : Number(match[1]);
  if (match === null || !(value > 0)) throw new Error('bad duration ' + raw + ' (use 30s, 2m or seconds)');
  const unit = match[2] || 's';
  return unit === 'ms' ? value / 1000 : unit === 'm' ? value * 60 : unit === 'h' ? value * 3600 : value;
}

/**
 * @param {ScenarioFile} file
 * @param {string} name
 * @returns {Scenario}
 */
export function findScenario(file, name) {
  for (const s of file.scenarios) if (s.name === name) return s;
  throw new Error('scenario ' + name + ' not found in scenarios.json; known: ' + file.scenarios.map((s) => s.name).join(', '));
}

/**
 * @param {ScenarioFile} file
 * @param {Scenario} s
 */
function sourcesOf(file, s) {
  const mix = s.mix && s.mix.length > 0 ? s.mix : [{ scenario: s.name, weight: 1 }];
  const total = mix.reduce((sum, m) => sum + m.weight, 0);
  if (!(total > 0)) throw new Error(s.name + ': mix weights must add up to more than 0');
  const sources = mix.map((m) => {
    const source = m.scenario === s.name ? s : findScenario(file, m.scenario);
    if (typeof source.query !== 'string') throw new Error(s.name + ': mix entry ' + m.scenario + ' has no query of its own');
    return { scenario: source, weight: m.weight };
  });
  return { sources: sources, totalWeight: total };
}

/**
 * @param {Scenario} s
 * @param {PlanOverrides} overrides
 * @returns {StageSpec[]}
 */
function stagesOf(s, overrides) {
  const rateScale = overrides.rateScale === undefined ? 1 : overrides.rateScale;
  if (s.stages && s.stages.length > 0) {
    const defined = s.stages.reduce((sum, st) => sum + st.duration, 0);
    const factor = overrides.duration === undefined ? 1 : overrides.duration / defined;
    return s.stages.map((st) => ({ name: st.name, duration: st.duration * factor, rate: st.rate * rateScale }));
  }
  const duration = overrides.duration === undefined ? Number(s.duration) : overrides.duration;
  return [{ name: s.name, duration: duration, rate: (s.rate || 0) * rateScale }];
}

/**
 * Rates, stages and VUs of one scenario. An open-loop scenario splits its VUs and rates
 * between request kinds by weight (k6 runs one executor per kind).
 * @param {ScenarioFile} file
 * @param {string} name
 * @param {PlanOverrides} [overrides]
 * @returns {Plan}
 */
export function planScenario(file, name, overrides) {
  const o = overrides || {};
  const s = findScenario(file, name);
  const vus = o.connections === undefined ? s.connections : o.connections;
  const mixed = sourcesOf(file, s);
  const totalWeight = mixed.totalWeight;
  const stages = stagesOf(s, o);
  const open = s.rate !== undefined || (s.stages !== undefined && s.stages.length > 0);
  const maxVUs = Math.max(vus, s.maxConnections || vus);
  return {
    scenario: s,
    mode: open ? 'open' : 'closed',
    duration: stages.reduce((sum, st) => sum + st.duration, 0),
    stages: stages.map((st) => ({ name: st.name, duration: st.duration })),
    // Multiply before dividing, so whole rates stay whole (k6 takes whole iterations per time unit).
    requests: mixed.sources.map((src) => ({
      name: src.scenario.name,
      scenario: src.scenario,
      weight: src.weight,
      vus: open ? Math.max(1, Math.ceil((vus * src.weight) / totalWeight)) : vus,
      maxVUs: open ? Math.max(1, Math.ceil((maxVUs * src.weight) / totalWeight)) : vus,
      rates: stages.map((st) => (st.rate * src.weight) / totalWeight),
    })),
  };
}

/**
 * Requests per second of each stage, over all request kinds.
 * @param {Plan} plan
 * @returns {number[]}
 */
export function stageRates(plan) {
  return plan.stages.map((_st, k) => plan.requests.reduce((sum, r) => sum + r.rates[k], 0));
}

/**
 * The scenarios whose setup a plan needs, each space once (mixed and spike share the spaces
 * of recall and remember).
 * @param {Plan} plan
 * @returns {Scenario[]}
 */
export function setupScenarios(plan) {
  /** @type {Record<string, boolean>} */
  const seen = {};
  /** @type {Scenario[]} */
  const out = [];
  for (const request of plan.requests) {
    const space = request.scenario.setup && request.scenario.setup.space;
    const key = space ? space.id : request.name;
    if (seen[key]) continue;
    seen[key] = true;
    out.push(request.scenario);
  }
  return out;
}

/**
 * Smooth weighted round robin: each call returns the next index, so the proportions are exact
 * over any short window, not only on average (nginx's upstream choice).
 * @param {number[]} weights
 * @returns {() => number}
 */
export function weightedRoundRobin(weights) {
  const total = weights.reduce((sum, w) => sum + w, 0);
  if (!(total > 0) || weights.some((w) => !(w >= 0))) throw new RangeError('weights must be non-negative with a positive sum');
  const current = weights.map(() => 0);
  return function next() {
    let best = 0;
    for (let i = 0; i < weights.length; i++) {
      current[i] += weights[i];
      if (current[i] > current[best]) best = i;
    }
    current[best] -= total;
    return best;
  };
}
