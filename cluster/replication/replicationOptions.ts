// What the replication shell is built from: the transport, the engine, membership, the
// clock, the storage port and the hooks the node wires in. The simulator passes virtual time,
// an observer and broken core variants; production passes the real clock.

import type { Engine, Logger } from '../../src/engine/engine.js';
import type { NodeClock } from '../clock.js';
import type { PlacementMember } from '../placement/placement.js';
import type { RpcServer } from '../routing/rpc.js';
import type { Transport } from '../transport/transport.js';
import type { ShardEvent } from './directives.js';
import type { MergeHandBacks } from './handBackWorker.js';
import type { ReplicationSettings } from './replicationSettings.js';
import type { ShardCore, ShardCoreOptions } from './shardCore.js';
import type { ReplicationStorage } from './storagePort.js';

export interface MembershipSource {
  /** Members that hold data: ALIVE and SUSPECT (a suspect may still refute). */
  liveMembers(): PlacementMember[];
  /** Every member in the view with its state, DEAD and LEFT included. */
  members(): (PlacementMember & { state: string })[];
  /** Grows whenever the view changes; when given, an unchanged view is not read again. */
  version?(): number;
}

/** Time and timers of the shell; the simulator passes virtual ones. */
export type ReplicationClock = NodeClock;
export { realClock } from '../clock.js';

/** Told about role changes and acknowledgements; the simulator's history checker listens here. */
export interface ReplicationObserver {
  onEvent?(space: string, shard: number, event: ShardEvent, nowMs: number): void;
}

export interface ReplicationOptions {
  transport: Transport;
  cluster: string;
  nodeId: string;
  engine: Engine;
  membership: MembershipSource;
  rpc: RpcServer;
  replicationFactor: number;
  logger: Logger;
  settings?: Partial<ReplicationSettings>;
  /** Told, per entry, how long after its commit on this primary a replica acknowledged it. */
  onReplicated?: (lagMs: number) => void;
  /** Merges writes cut off a divergent log into the current primary of their shards (with QUORUM). */
  mergeHandBacks: MergeHandBacks;
  clock?: ReplicationClock;
  storage?: ReplicationStorage;
  observer?: ReplicationObserver;
  /** Builds each shard's core; the simulator's broken variants replace it. */
  coreFactory?: (options: ShardCoreOptions) => ShardCore;
}


