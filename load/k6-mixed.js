// @ts-check
// k6: the `mixed` scenario of load/scenarios.json, an open-loop read/write mix: recalls and
// remembers arrive at fixed rates (80% / 20% of 400 requests/s) whether or not earlier ones
// were answered, one constant-arrival-rate executor per request kind. setup() creates and
// seeds the spaces of both. Thresholds (overall and per request kind through the `name`
// tag) come from scenarios.json.
//
//   k6 run load/k6-mixed.js -e ENGRAM_URL=http://host:4000/graphql
//   k6 run load/k6-mixed.js -e RATE_SCALE=4 -e DURATION=2m      # 1600 requests/s for two minutes

import { optionsFor, planFor, runIteration, setupPlan, targetUrl } from './k6-lib.js';

const plan = planFor(__ENV.SCENARIO || 'mixed');

export const options = optionsFor(plan);

export function setup() {
  setupPlan(plan, targetUrl());
}

export default function () {
  runIteration(plan, targetUrl());
}
