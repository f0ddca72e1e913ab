// What the anti-entropy core asks its shell to do, and what the shell tells it. The core
// never performs I/O: it returns these directives, and the shell runs each one (a request
// over the Transport, a read of the copy's tree, digest index or records, a repair written
// through the engine) and hands read and request outcomes back with their token, so the
// same core runs over NATS and RocksDB in production and over the simulator in tests.

import type { Epoch } from '../replication/epoch.js';
import type { AntiEntropyOperation, CopyItem } from './messages.js';

/** What this node holds of one (space, shard): the core's only view of roles, given on every tick. */
export interface HeldShard {
  space: string;
  shard: number;
  /** The copy's current epoch (replication's): requests carry it, replies are checked against it. */
  epoch: Epoch;
  role: 'primary' | 'replica';
  /** For a primary: the replica nodes to compare with (live members replication ships to). */
  replicas: readonly string[];
  /**
   * Replicas replication reports behind (unacknowledged entries beyond its lag bound).
   * They are compared and merged from as usual, but never restated: their differences are
   * expected and the log is already repairing them.
   */
  lagging: readonly string[];
  /** The digest index and tree can be trusted: built, and no snapshot install under way. */
  ready: boolean;
}

/** The outcome of a request or read, handed back to the core with its token. */
export type Outcome = { ok: true; value: unknown } | { ok: false; error: string };

/** Counts of one round, reported with its end. Bytes are UTF-8 bytes of JSON bodies. */
export interface RoundCounts {
  /** Tree nodes whose hashes were compared (the root, then every child fetched). */
  nodesCompared: number;
  /** Leaves whose entries were compared. */
  leavesCompared: number;
  /** Ids whose digests differed between the two copies. */
  idsDiffering: number;
  merged: number;
  restated: number;
  replaced: number;
  /** Differences remembered to be restated if the next round finds them unchanged. */
  suspected: number;
  /** Suspects dropped because the memory was full (oldest first). */
  suspectsDropped: number;
  /** Ids damaged on the primary that this replica cannot supply (absent or damaged there too). */
  unrepairable: number;
  /** Merges and replacements left for the next round by maxRepairsPerRound or oversized copies. */
  repairsDeferred: number;
  requests: number;
  bytesSent: number;
  bytesReceived: number;
}

export type RoundOutcome =
  /** The roots were equal. */
  | 'matched'
  /** Differences were found; some were repaired or suspected. */
  | 'differed'
  /** The roots differed but no differing id was found: the copies changed during the round. */
  | 'raced';

export type ExchangeEvent =
  | { kind: 'roundFinished'; space: string; shard: number; peer: string; outcome: RoundOutcome; counts: RoundCounts; durationMs: number }
  | { kind: 'roundFailed'; space: string; shard: number; peer: string; reason: string; counts: RoundCounts; durationMs: number }
  /** This node refused an inbound request. */
  | { kind: 'refused'; from: string; op: string; reason: string };

/** Reads of this node's own copy of a shard, each answered through onStorage(token) with the result named beside it. */
export type StorageRead =
  /** Refresh the shard's HashTree (its dirty leaves), then answer `tree.read(level, indices)`: a TreeRead. */
  | { type: 'readTree'; token: number; space: string; shard: number; level: number; indices: number[] }
  /** Answer the digest index entries of each leaf, in the order asked: LeafEntry[][] (each leaf's in any order). */
  | { type: 'readLeaves'; token: number; space: string; shard: number; leaves: number[] }
  /** Answer the held records among `ids` with their index digests: CopyItem[] (absent ids left out). */
  | { type: 'readCopies'; token: number; space: string; shard: number; ids: string[] };

/** A read as the core asks for it, before the token and shard are added. */
export type ReadCall = { type: 'readTree'; level: number; indices: number[] } | { type: 'readLeaves'; leaves: number[] } | { type: 'readCopies'; ids: string[] };

export type Directive =
  /** Send `body` to `to` as `op`; hand the reply body (or the failure, a timeout included) to onReply(token). */
  | { type: 'request'; token: number; to: string; op: AntiEntropyOperation; body: unknown; timeoutMs: number }
  /** Answer the inbound request `replyTo` with `body`. */
  | { type: 'reply'; replyTo: number; body: unknown }
  | StorageRead
  /**
   * The primary merges these replica copies into its own store as logged writes: the
   * conflict merge is a join, so merging is always safe; a join that changes nothing writes nothing.
   */
  | { type: 'merge'; space: string; shard: number; peer: string; copies: CopyItem[] }
  /**
   * The primary's copies of these records are damaged: install the replica's copy verbatim
   * (no join with the damaged bytes; check the copy against `digest` first) and log it, so
   * every copy ends up with it.
   */
  | { type: 'replace'; space: string; shard: number; peer: string; copies: CopyItem[] }
  /**
   * A replica's copies of these ids differ persistently: re-log the primary's current state
   * of each (its absence included: a logged purge of the replica's damaged copy), so every
   * replica overwrites its copy through the log.
   */
  | { type: 'restate'; space: string; shard: number; peer: string; ids: string[] }
  /** The replica's root equalled the primary's at `atMs`. */
  | { type: 'matched'; space: string; shard: number; peer: string; root: string; atMs: number }
  | { type: 'event'; event: ExchangeEvent };
