// @ts-check
// k6: the `recall` scenario of load/scenarios.json. setup() creates the space and seeds it
// with the seeded clustered vectors (ids seed-0..seed-N-1, so re-running does not grow it;
// SEED_COUNT overrides the count), then 16 VUs send SIMILARITY recalls with cues around the
// same centres. Thresholds (p(50)<5 ms, no failed requests, no GraphQL errors) come from
// scenarios.json; every answer must also contain memories.
//
//   k6 run load/k6-recall.js
//   k6 run load/k6-recall.js -e ENGRAM_URL=http://host:4000/graphql -e DURATION=60s -e SEED_COUNT=100000

import { optionsFor, planFor, runIteration, setupPlan, targetUrl } from './k6-lib.js';

const plan = planFor(__ENV.SCENARIO || 'recall');

export const options = optionsFor(plan);

export function setup() {
  setupPlan(plan, targetUrl());
}

export default function () {
  runIteration(plan, targetUrl());
}
