// @ts-check
// k6: the `remember` scenario of load/scenarios.json. 16 VUs (one connection each) store
// distinct memories with 768-d embeddings; thresholds (p(99)<5 ms, no failed requests, no
// GraphQL errors) come from scenarios.json, so `k6 run` exits non-zero when one is missed.
//
//   k6 run load/k6-remember.js
//   k6 run load/k6-remember.js -e ENGRAM_URL=http://host:4000/graphql -e VUS=32 -e DURATION=60s
//
// The `{ __typename }` baseline scenario runs through this script too (compare the two):
//   k6 run load/k6-remember.js -e SCENARIO=typename

import { optionsFor, planFor, runIteration, setupPlan, targetUrl } from './k6-lib.js';

const plan = planFor(__ENV.SCENARIO || 'remember');

export const options = optionsFor(plan);

export function setup() {
  setupPlan(plan, targetUrl());
}

export default function () {
  runIteration(plan, targetUrl());
}
