// Shared helpers for load/k6-*.js (plain k6 JavaScript, no Node APIs).
// - The seeded vector generator is a line-for-line port of test/support/clusteredVectors.ts
//   (mulberry32 + Box-Muller + murmur3 seed mixing), so memories seeded here are the same
//   bytes as the ones load/run.ts seeds, and cues fall around the same cluster centres.
// - `$gen` hints in scenarios.json variables are rendered per request, like bench/bodies.ts.
// - Every response is checked for a 2xx status AND an absent GraphQL `errors` array.

import http from 'k6/http';
import { check, fail } from 'k6';
import { Rate } from 'k6/metrics';

export const graphqlErrors = new Rate('graphql_errors');

export const config = JSON.parse(open('./scenarios.json'));

export function scenario(name) {
  for (const s of config.scenarios) if (s.name === name) return s;
  throw new Error('scenario ' + name + ' not found in scenarios.json');
}

export function targetUrl() {
  return __ENV.ENGRAM_URL || 'http://127.0.0.1:4000/graphql';
}

/** k6 options for one scenario; VUS and DURATION (seconds) in the environment override it. */
export function optionsFor(s) {
  const vus = Number(__ENV.VUS || s.connections);
  const duration = Number(__ENV.DURATION || s.duration);
  const thresholds = {};
  for (const metric of Object.keys(s.thresholds || {})) thresholds[metric] = s.thresholds[metric];
  thresholds.checks = ['rate==1'];
  return {
    scenarios: {
      [s.name]: { executor: 'constant-vus', vus: vus, duration: duration + 's', gracefulStop: '5s' },
    },
    thresholds: thresholds,
    setupTimeout: '600s',
    summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(99)', 'max'],
  };
}

// ---- seeded generator (port of test/support/clusteredVectors.ts) ---------------------

export function mulberry32(seed) {
  let state = seed >>> 0;
  return function () {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(uniform) {
  let spare;
  return function () {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    let u = 0;
    while (u === 0) u = uniform();
    const v = uniform();
    const radius = Math.sqrt(-2 * Math.log(u));
    spare = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  };
}

function mixSeed(a, b) {
  let h = (Math.imul(a >>> 0, 0x9e3779b1) ^ (b >>> 0)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function normalise(v) {
  let sum = 0;
  for (let j = 0; j < v.length; j++) sum += v[j] * v[j];
  const inv = 1 / Math.sqrt(sum || 1);
  for (let j = 0; j < v.length; j++) v[j] *= inv;
  return v;
}

const centresCache = {};

export function clusterCentres(dimension, clusters, seed) {
  const key = dimension + '/' + clusters + '/' + seed;
  if (centresCache[key]) return centresCache[key];
  const normal = gaussian(mulberry32(mixSeed(seed, 0x63656e74)));
  const centres = new Float32Array(clusters * dimension);
  for (let c = 0; c < clusters; c++) {
    const v = new Float64Array(dimension);
    for (let j = 0; j < dimension; j++) v[j] = normal();
    normalise(v);
    for (let j = 0; j < dimension; j++) centres[c * dimension + j] = v[j];
  }
  centresCache[key] = centres;
  return centres;
}

/** The deterministic data stream of clusteredVectors({ seed, stream: 0 }): call next() for point 0, 1, 2, ... */
export function seededStream(dimension, clusters, seed, spread) {
  const centres = clusterCentres(dimension, clusters, seed);
  const uniform = mulberry32(mixSeed(mixSeed(seed, 0x706f696e), 0));
  const normal = gaussian(uniform);
  const sigma = (spread === undefined ? 1 : spread) / Math.sqrt(dimension);
  return function next() {
    const c = Math.min(clusters - 1, Math.floor(uniform() * clusters)) * dimension;
    const v = new Float32Array(dimension);
    for (let j = 0; j < dimension; j++) v[j] = centres[c + j] + normal() * sigma;
    return Array.from(normalise(v));
  };
}

function rounded(v) {
  const out = new Array(v.length);
  for (let j = 0; j < v.length; j++) out[j] = Math.round(v[j] * 1e5) / 1e5;
  return out;
}

// ---- request bodies --------------------------------------------------------------------

const vuUniform = mulberry32(0x9e3779b9 ^ (typeof __VU === 'number' ? __VU * 7919 : 0));
const vuNormal = gaussian(vuUniform);

function vectorFor(hint) {
  const dimension = Number(hint.dimension);
  const v = new Float64Array(dimension);
  if (hint.clusters) {
    const centres = clusterCentres(dimension, Number(hint.clusters), Number(hint.seed || 0));
    const c = Math.min(hint.clusters - 1, Math.floor(vuUniform() * hint.clusters)) * dimension;
    const sigma = (hint.spread === undefined ? 1 : Number(hint.spread)) / Math.sqrt(dimension);
    for (let j = 0; j < dimension; j++) v[j] = centres[c + j] + vuNormal() * sigma;
  } else {
    for (let j = 0; j < dimension; j++) v[j] = vuNormal();
  }
  return rounded(normalise(v));
}

function uuid() {
  const hex = '0123456789abcdef';
  let out = '';
  for (let i = 0; i < 32; i++) out += hex[Math.floor(Math.random() * 16)];
  return out.slice(0, 8) + '-' + out.slice(8, 12) + '-4' + out.slice(13, 16) + '-a' + out.slice(17, 20) + '-' + out.slice(20);
}

/** Replaces every { "$gen": ... } in the template; `seq` numbers the requests of this VU. */
export function render(value, seq) {
  if (Array.isArray(value)) return value.map((v) => render(v, seq));
  if (value !== null && typeof value === 'object') {
    if (typeof value.$gen === 'string') {
      switch (value.$gen) {
        case 'vector':
          return vectorFor(value);
        case 'text':
          return (value.prefix || 'load memory') + ' #' + seq + ' vu' + __VU + '-' + Math.floor(vuUniform() * 1e9).toString(36);
        case 'uuid':
          return uuid();
        default:
          throw new Error('unsupported $gen ' + value.$gen + ' in k6 (poolVector is bench-only)');
      }
    }
    const out = {};
    for (const key of Object.keys(value)) out[key] = render(value[key], seq);
    return out;
  }
  return value;
}

const JSON_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json' };

/** Posts one GraphQL request and records status and GraphQL errors. Returns the parsed body or null. */
export function postGraphql(url, query, variables, tags) {
  const res = http.post(url, JSON.stringify({ query: query, variables: variables }), { headers: JSON_HEADERS, tags: tags });
  let body = null;
  try {
    body = res.json();
  } catch (e) {
    body = null;
  }
  const hasErrors = body === null || (Array.isArray(body.errors) && body.errors.length > 0) || body.data == null;
  graphqlErrors.add(hasErrors);
  check(res, {
    'status is 2xx': (r) => r.status >= 200 && r.status < 300,
    'no GraphQL errors': () => !hasErrors,
  });
  return body;
}

// ---- setup -----------------------------------------------------------------------------

function mustSucceed(res, what) {
  let body = null;
  try {
    body = res.json();
  } catch (e) {
    body = null;
  }
  if (res.status < 200 || res.status >= 300 || body === null || (body.errors && body.errors.length > 0)) {
    fail(what + ' failed: HTTP ' + res.status + ' ' + String(res.body).slice(0, 300));
  }
  return body.data;
}

/** Creates the scenario's space and seeds it (ids seed-0..seed-N-1, idempotent). */
export function setupScenario(s, url) {
  const setup = s.setup || {};
  if (setup.space) {
    mustSucceed(
      http.post(url, JSON.stringify({ query: 'mutation ($id: ID!, $dimension: Int) { createSpace(id: $id, dimension: $dimension) { id } }', variables: setup.space }), { headers: JSON_HEADERS, tags: { name: 'setup' } }),
      'createSpace ' + setup.space.id,
    );
  }
  const seed = setup.seed;
  if (!seed) return;
  const count = Number(__ENV.SEED_COUNT || seed.count);
  const spaces = mustSucceed(http.post(url, JSON.stringify({ query: '{ spaces { id memoryCount } }' }), { headers: JSON_HEADERS, tags: { name: 'setup' } }), 'spaces');
  for (const sp of spaces.spaces) {
    if (sp.id === setup.space.id && sp.memoryCount >= count) {
      console.log('space ' + sp.id + ' already holds ' + sp.memoryCount + ' memories; not seeding');
      return;
    }
  }
  const next = seededStream(seed.dimension, seed.clusters, seed.seed, seed.spread);
  const query = 'mutation ($space: ID, $memory: MemoryInput!) { remember(space: $space, memory: $memory) { id } }';
  const batchSize = seed.concurrency || 16;
  for (let i = 0; i < count; i += batchSize) {
    const requests = [];
    for (let j = i; j < Math.min(count, i + batchSize); j++) {
      const memory = { id: 'seed-' + j, content: 'seeded memory ' + j, embedding: rounded(next()) };
      requests.push(['POST', url, JSON.stringify({ query: query, variables: { space: setup.space.id, memory: memory } }), { headers: JSON_HEADERS, tags: { name: 'setup' } }]);
    }
    for (const res of http.batch(requests)) mustSucceed(res, 'seeding');
  }
  console.log('seeded ' + count + ' memories into ' + setup.space.id);
}
