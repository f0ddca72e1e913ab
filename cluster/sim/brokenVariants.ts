// Deliberately broken replication, for proving that the checker can fail: each variant
// reintroduces one bug that docs/consistency.md rules out, and test/sim/checkerCatches.test.ts
// asserts the checker reports it within a bounded number of seeds. Never used outside the
// simulator.

import type { Epoch } from '../replication/epoch.js';
import { ShardCore, type ShardCoreOptions, type ShardView } from '../replication/shardCore.js';
import type { Directive } from '../replication/directives.js';
import type { HandBack, ReplicationStorage } from '../replication/storagePort.js';
import type { Router } from '../routing/router.js';
import type { ReplicationOverrides } from './simNode.js';

export const brokenVariants = ['visible-quorum', 'colliding-epochs', 'volatile-handback', 'silent-shard-failure'] as const;
export type BrokenVariant = (typeof brokenVariants)[number];

/** QUORUM counted from the copies this node sees, as before the fix. */
class VisibleQuorumCore extends ShardCore {
  override onTick(view: ShardView, nowMs: number): Directive[] {
    return super.onTick({ ...view, configuredCopies: 1 + view.replicas.length }, nowMs);
  }
}

/** Every claimant proposes the same epoch for a term, as hashed node bits could collide. */
class CollidingEpochsCore extends ShardCore {
  protected override proposeEpoch(highest: Epoch): Epoch {
    return [highest[0] + 1, 'n'];
  }
}

/** Hand-back records kept only in memory: a crash before the merge loses them. */
function volatileHandBacks(storage: ReplicationStorage): ReplicationStorage {
  const kept: HandBack[] = [];
  return new Proxy(storage, {
    get(target, property, receiver) {
      if (property === 'truncate') {
        return async (...args: Parameters<ReplicationStorage['truncate']>) => {
          const count = await target.truncate(...args);
          const written = await target.handBacks(100_000);
          kept.push(...written);
          await target.handBacksMerged(written);
          return count;
        };
      }
      if (property === 'handBacks') return async (limit: number) => kept.slice(0, limit);
      if (property === 'handBacksMerged') {
        return async (done: readonly HandBack[]) => {
          for (const record of done) kept.splice(kept.indexOf(record), 1);
        };
      }
      if (property === 'handBackCount') return () => kept.length;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** A recall sub-request that fails counts as an empty answer, as recognize once ignored failed shards. */
function silentShardFailures(router: Router): Router {
  return new Proxy(router, {
    get(target, property, receiver) {
      if (property === 'callOnce') {
        return async (node: string, op: string, ...rest: unknown[]) => {
          try {
            return await (target.callOnce as (...args: unknown[]) => Promise<unknown>).call(target, node, op, ...rest);
          } catch (error) {
            if (op !== 'op.recall') throw error;
            return { memories: [], confidence: { point: 0, lower: 0, upper: 0 }, partial: false, metadata: { mode: 'SIMILARITY', activatedCount: 0, candidateCount: 0, depthReached: 0, truncated: false, elapsedMs: 0 } };
          }
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

export function brokenVariant(variant: BrokenVariant): ReplicationOverrides {
  switch (variant) {
    case 'visible-quorum':
      return { coreFactory: (options: ShardCoreOptions) => new VisibleQuorumCore(options) };
    case 'colliding-epochs':
      return { coreFactory: (options: ShardCoreOptions) => new CollidingEpochsCore(options) };
    case 'volatile-handback':
      return { wrapStorage: volatileHandBacks };
    case 'silent-shard-failure':
      return { wrapRouter: silentShardFailures };
  }
}
