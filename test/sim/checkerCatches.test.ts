// The checker must be able to fail: each deliberately broken variant of replication
// (cluster/sim/brokenVariants.ts) reintroduces one bug docs/consistency.md rules out, and the
// checker has to report it within a bounded number of seeds of the scenario that exposes it.

import { describe, expect, it } from 'vitest';
import type { BrokenVariant } from '../../cluster/sim/brokenVariants.js';
import { runClusterSimulation } from '../../cluster/sim/clusterSimulation.js';
import type { Scenario } from '../../cluster/sim/nemesis.js';

/** Seeds tried per variant; each was caught well within this when the test was written. */
const SEED_BOUND = 20;

async function firstCaught(variant: BrokenVariant, scenario: Scenario, expected: RegExp, plan: { replicationFactor?: number; shards?: number } = {}): Promise<{ seed: number; violation: string } | null> {
  for (let seed = 1; seed <= SEED_BOUND; seed++) {
    const result = await runClusterSimulation({ seed, scenario, variant, ...plan });
    const violation = result.violations.find((v) => expected.test(v));
    if (violation !== undefined) return { seed, violation };
  }
  return null;
}

describe('the checker catches broken replication', () => {
  it('aFailedShardCountedAsAnEmptyAnswer_isReportedAsAnsweredWhileDown', { timeout: 120_000 }, async () => {
    const caught = await firstCaught('silent-shard-failure', 'kill', /counted as answered while every copy was down/, { replicationFactor: 1, shards: 3 });
    expect(caught, 'no seed exposed a failed shard counted as answered').not.toBeNull();
  });

  it('quorumCountedFromVisibleCopies_isReportedAsUnderReplicated', { timeout: 120_000 }, async () => {
    const caught = await firstCaught('visible-quorum', 'split', /fewer copies than promised/);
    expect(caught, 'no seed exposed QUORUM counted from visible copies').not.toBeNull();
  });

  it('collidingEpochs_areReportedAsTwoPrimariesInOneEpoch', { timeout: 120_000 }, async () => {
    const caught = await firstCaught('colliding-epochs', 'flapping', /primary in one epoch/);
    expect(caught, 'no seed exposed colliding epochs').not.toBeNull();
  });

  it('aHandBackKeptOnlyInMemory_isReportedAsLostWrites_whenTheNodeDiesAtTheCut', { timeout: 120_000 }, async () => {
    const caught = await firstCaught('volatile-handback', 'crash-on-cut', /lost|never converged|differ/);
    expect(caught, 'no seed exposed an in-memory hand-back').not.toBeNull();
  });
});
