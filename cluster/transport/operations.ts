// Every request/reply operation nodes call on each other over `<cluster>.rpc.<nodeId>`
// (see subjects.ts), in one table with its message version. Append-only: an operation is
// never renamed or reused; a change of its messages bumps the version, and the schemas that
// validate them on receipt live beside the protocol (replication: cluster/replication/messages.ts).

export const operations = {
  /** A claimant fences a holder with a new epoch and learns its log position. v1. */
  fence: 'repl.fence',
  /** A primary ships a batch of its log (or a probe) to a replica. v1. */
  append: 'repl.append',
  /** A catching-up node pulls log entries from a more current copy. v1. */
  pull: 'repl.pull',
  /** A catching-up node reads one chunk of a shard's records when the log no longer reaches back. v1. */
  snapshot: 'repl.snapshot',
  /** A primary tells each replica node its epochs and which shards it is behind on; the answer carries the replica's epochs. v1. */
  heartbeat: 'repl.heartbeat',
  /** Role, epoch and replica lag of a space's shards on the node. */
  status: 'repl.status',
  /** A node asks a primary for its log position on shards it reads for it (cluster/replication/readPosition.ts). v1. */
  position: 'repl.position',
} as const;

/** A batch write: one shard's part of a `rememberBatch`, on that shard's primary (src/service/batchService.ts). */
export const batchOperations = {
  rememberBatch: 'op.rememberBatch',
} as const;

/** Online backup: a page of a shard's snapshot, read on the node that holds the session (src/backup). */
export const backupOperations = {
  page: 'op.backupPage',
} as const;

/** Node administration: an admin asks a node to drain (hand its shards off) and leave. */
export const adminOperations = {
  drain: 'node.drain',
} as const;

/**
 * Anti-entropy operations (cluster/antientropy/messages.ts, message version 2): a primary
 * reads a replica's hash-tree nodes (`ae.tree`), the sub-bucket hashes of differing leaves
 * (`ae.buckets`), digest-index entries (`ae.leaves`) and record copies (`ae.copies`).
 */
export { antiEntropyOperations } from '../antientropy/messages.js';

/** Node API operations a router forwards to a shard's owner: `op.<name>`, the NodeService handlers. */
export const nodeOperations = ['memory', 'embedding', 'memories', 'recall', 'read', 'touch', 'remember', 'rememberEpisode', 'forget', 'consolidate', 'writePatterns', 'merge', 'createSpace', 'catalog', 'counts'] as const;

export type ReplicationOperation = (typeof operations)[keyof typeof operations];
