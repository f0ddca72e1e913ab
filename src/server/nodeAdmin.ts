// Operations on a node as a whole, for admins: drain (hand the shards this node leads to
// other copies, then leave and stop). Any node takes the request; one for another node is
// sent to it over the cluster, with the caller's key id, and that node checks it again.

import type { DrainOutcome } from '../../cluster/replication/drain.js';
import { adminOperations } from '../../cluster/transport/operations.js';
import type { MessageHeaders } from '../../cluster/transport/transport.js';
import type { Access } from '../auth/access.js';
import { BadInputError, NotFoundError } from '../errors.js';
import type { ClusterNode } from './clusterNode.js';

/** Longest a node id may be (ENGRAM_NODE_ID allows 64 characters). */
const MAX_NODE_ID_LENGTH = 64;
/** A forwarded drain waits for the whole drain, plus this for the answer to come back. */
const FORWARD_MARGIN_MS = 5000;

export class NodeAdmin {
  constructor(
    private readonly nodeId: string,
    private readonly cluster: ClusterNode | undefined,
    private readonly drainSelf: () => Promise<DrainOutcome>,
    private readonly drainTimeoutMs: number,
  ) {}

  /** Drains `target`, or this node when it is null. */
  async drain(access: Access, requested: string | null, headers: MessageHeaders): Promise<DrainOutcome> {
    access.requireNodeAdmin();
    const target = requested ?? this.nodeId;
    if (this.cluster === undefined) throw new BadInputError('This node runs embedded (no ENGRAM_NATS_URL): there is no cluster to hand its data to; stop it with SIGTERM');
    if (target === this.nodeId) return this.drainSelf();
    if (target.length > MAX_NODE_ID_LENGTH || !this.isLiveMember(target)) throw new NotFoundError(`No live cluster member is named "${target.slice(0, MAX_NODE_ID_LENGTH)}"`, { details: { node: target.slice(0, MAX_NODE_ID_LENGTH) } });
    return this.cluster.router.callOnce<DrainOutcome>(target, adminOperations.drain, {}, headers, this.drainTimeoutMs + FORWARD_MARGIN_MS);
  }

  private isLiveMember(node: string): boolean {
    return this.cluster?.membership.members().some((m) => m.id === node && (m.state === 'ALIVE' || m.state === 'SUSPECT')) === true;
  }
}
