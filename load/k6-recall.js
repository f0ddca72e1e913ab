// k6: the `recall` scenario of load/scenarios.json. setup() creates the space and seeds it
// with the seeded clustered vectors (ids seed-0..seed-N-1, so re-running does not grow it;
// SEED_COUNT overrides the count), then 16 VUs send SIMILARITY recalls with cues around the
// same centres. Thresholds (p(50)<5 ms, no failed requests, no GraphQL errors) come from
// scenarios.json; every answer must also contain memories.
//
//   k6 run load/k6-recall.js
//   ENGRAM_URL=http://host:4000/graphql VUS=16 DURATION=60 SEED_COUNT=100000 k6 run load/k6-recall.js

import { check } from 'k6';
import { optionsFor, postGraphql, render, scenario, setupScenario, targetUrl } from './k6-lib.js';

const s = scenario(__ENV.SCENARIO || 'recall');

export const options = optionsFor(s);

export function setup() {
  setupScenario(s, targetUrl());
}

export default function () {
  const body = postGraphql(targetUrl(), s.query, render(s.variables, __ITER), { name: s.name });
  if (s.name === 'recall') {
    check(body, { 'recall returned memories': (b) => b !== null && b.data != null && b.data.recall.memories.length > 0 });
  }
}
