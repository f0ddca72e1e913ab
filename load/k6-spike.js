// @ts-check
// k6: the `spike` scenario of load/scenarios.json: the 80/20 recall/remember mix at a
// baseline arrival rate, an instant jump to 5x, then the baseline again (ramping-arrival-rate,
// each stage held, 0 s stages for the jumps). Requests carry a `stage` tag, so thresholds can
// hold the recovery stage to baseline latency.
//
//   k6 run load/k6-spike.js -e ENGRAM_URL=http://host:4000/graphql
//   k6 run load/k6-spike.js -e RATE_SCALE=4 -e DURATION=3m      # stages scaled to 3 minutes in all

import { optionsFor, planFor, runIteration, setupPlan, targetUrl } from './k6-lib.js';

const plan = planFor(__ENV.SCENARIO || 'spike');

export const options = optionsFor(plan);

export function setup() {
  setupPlan(plan, targetUrl());
}

export default function () {
  runIteration(plan, targetUrl());
}
