// k6: the `remember` scenario of load/scenarios.json. 16 VUs (one connection each) store
// distinct memories with 768-d embeddings; thresholds (p(99)<5 ms, no failed requests, no
// GraphQL errors) come from scenarios.json, so `k6 run` exits non-zero when one is missed.
//
//   k6 run load/k6-remember.js
//   ENGRAM_URL=http://host:4000/graphql VUS=32 DURATION=60 k6 run load/k6-remember.js
//
// The `{ __typename }` baseline scenario runs through this script too (compare the two):
//   SCENARIO=typename k6 run load/k6-remember.js

import { optionsFor, postGraphql, render, scenario, setupScenario, targetUrl } from './k6-lib.js';

const s = scenario(__ENV.SCENARIO || 'remember');

export const options = optionsFor(s);

export function setup() {
  setupScenario(s, targetUrl());
}

export default function () {
  postGraphql(targetUrl(), s.query, render(s.variables, __ITER), { name: s.name });
}
