// What replication needs from a node's storage, as a port: the replication core decides,
// and the shell runs each decision against one of two implementations, the engine's
// RocksDB-backed store (engineStorage.ts) or a plain in-memory model (memoryStorage.ts)
// that unit tests of the core and the simulator use. Every method that changes the log
// persists the shard's epoch and history in the same atomic batch, so the history always
// describes exactly the log that is on disk.

import type { RecordCopy, ShippedEntry } from '../../src/engine/shardSync.js';
import type { SpaceDefinition } from '../../src/engine/types.js';
import type { Epoch } from './epoch.js';
import type { EpochHistory } from './epochHistory.js';

export type { RecordCopy, ShippedEntry };

/** What a shard's copy durably holds about its log. */
export interface ShardPosition {
  lastSeq: number;
  /** Highest epoch this copy has seen, claimed or fenced with. */
  epoch: Epoch;
  history: EpochHistory;
  /** A snapshot install began and did not finish: the copy vouches for nothing. */
  installing: boolean;
}

/** A write cut off a divergent log, kept durably until the current primary merged it. */
export interface HandBack {
  space: string;
  shard: number;
  id: string;
  /** The log position it was cut at; tells two cuts of the same memory apart. */
  cutSeq: number;
  /** The local state: null when the memory was deleted. */
  copy: RecordCopy | null;
  deletedVersion?: Record<string, number>;
}

/** A member as placement sees it. */
export interface KnownMember {
  id: string;
  rack?: string | undefined;
  zone?: string | undefined;
}

export interface SnapshotChunk {
  records: RecordCopy[];
  next: string | null;
}

export interface ReplicationStorage {
  /** Reads what the port keeps in memory (such as the hand-back count) from storage, once at start. */
  open?(): Promise<void>;
  /** Space definitions this node holds. */
  spaces(): readonly SpaceDefinition[];
  definition(space: string): SpaceDefinition | undefined;
  /** Creates a space another node told about (the space limit was applied where it was created). */
  ensureSpace(definition: SpaceDefinition): Promise<void>;

  /** The persisted position of a shard. */
  load(space: string, shard: number): Promise<ShardPosition>;
  /** Waits for local writes already accepted to commit; resolves with the last sequence. */
  settle(space: string, shard: number): Promise<number>;
  /** Persists the epoch and history alone (a fence, or a claim before its first write). */
  saveEpoch(space: string, shard: number, epoch: Epoch, history: EpochHistory): Promise<void>;

  /**
   * Entries from `fromSeq` on, at most `maxEntries` and `maxBytes` (as `entryBytes` counts
   * them); 'compacted' when `fromSeq` is no longer in the log.
   */
  readLog(space: string, shard: number, fromSeq: number, maxEntries: number, maxBytes: number): Promise<ShippedEntry[] | 'compacted'>;
  /**
   * Applies shipped entries in order, each at its own sequence, skipping those already held.
   * The history of the source, cut at what was applied, is persisted with the entries.
   * Resolves with the last sequence held.
   */
  apply(space: string, shard: number, entries: readonly ShippedEntry[], epoch: Epoch, sourceHistory: EpochHistory): Promise<number>;
  /**
   * Cuts the log back to `toSeq`. In the same batch, writes a hand-back record for every
   * memory the cut entries touched and the shortened history. Resolves with how many were kept.
   */
  truncate(space: string, shard: number, toSeq: number, epoch: Epoch, history: EpochHistory): Promise<number>;

  /** One chunk of the shard's records in id order after `after`, within `maxBytes`. */
  snapshotChunk(space: string, shard: number, after: string | null, maxRecords: number, maxBytes: number): Promise<SnapshotChunk>;
  /** First batch of an install: marker, empty log and history; then removes the shard's records. */
  beginInstall(space: string, shard: number, epoch: Epoch): Promise<void>;
  installChunk(space: string, shard: number, records: readonly RecordCopy[]): Promise<void>;
  /** Last batch of an install: the log restarts after `seq`, with the history, and the marker goes. */
  finishInstall(space: string, shard: number, seq: number, epoch: Epoch, history: EpochHistory): Promise<void>;

  /**
   * Merges this node's own hand-back records of the shard into its store, as new log
   * entries, and removes them. A claimant runs it after recording its epoch and before
   * accepting writes, so no write it accepts can reuse a version of a cut-off one.
   * Resolves with how many were merged.
   */
  mergeOwnHandBacks(space: string, shard: number): Promise<number>;
  /** Hand-back records waiting, oldest cut first, at most `limit`. */
  handBacks(limit: number): Promise<HandBack[]>;
  /** Removes hand-back records once their merge was acknowledged. */
  handBacksMerged(done: readonly HandBack[]): Promise<void>;
  /** How many hand-back records wait. */
  handBackCount(): number;

  /** Members this node has known, kept so a restart alone still knows the cluster's size. */
  loadMembers(): Promise<KnownMember[]>;
  saveMembers(members: readonly KnownMember[]): Promise<void>;
}
