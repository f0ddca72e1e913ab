// The storage port of the engine: an ordered key-value store with atomic batches and
// point-in-time snapshots. `Store` (RocksDB, production) and `MemoryStore` (in memory, for
// the deterministic simulator and unit tests) both satisfy it, so the engine, the index
// checkpointer and replication never depend on which one runs underneath.
//
// Contract, written against RocksDB's behaviour so that both implementations agree:
// - Keys are ordered by their bytes, unsigned and lexicographic (Buffer.compare order).
// - Every read resolves asynchronously, after the call returns.
// - `write` applies all of its operations or none of them.
// - A scan reads the state as of its first step; writes made while it runs are not seen.

/** One operation of an atomic batch. `delRange` deletes keys in [start, end). */
export type WriteOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer } | { type: 'delRange'; start: Buffer; end: Buffer };

/**
 * A key range. Bounds combine (gte with gt, lt with lte: both apply); an absent or empty
 * bound means unbounded on that side. `limit` counts entries returned; negative or absent
 * is unlimited. `reverse` walks from the upper end down.
 */
export interface ScanRange {
  gte?: Buffer;
  gt?: Buffer;
  lt?: Buffer;
  lte?: Buffer;
  reverse?: boolean;
  limit?: number;
}

export interface StoreSizes {
  /** Bytes in SST files on disk (0 for a store that has no disk). */
  sstBytes: number;
  /** Bytes held in memtables (written but not yet flushed to SST), or in memory. */
  memtableBytes: number;
  /** Estimate of the live data size. */
  liveDataBytes: number;
}

/** Read access shared by the store and its snapshots. */
export interface Reader {
  /** The value of `key`, or null. */
  get(key: Buffer): Promise<Buffer | null>;
  /** The values of `keys`, in the same order, null where absent. */
  getMany(keys: readonly Buffer[]): Promise<(Buffer | null)[]>;
  /** Entries of the range in key order (descending with `reverse`). */
  scan(range: ScanRange): AsyncIterable<{ key: Buffer; value: Buffer }>;
}

/** A consistent point-in-time view; later writes to the store do not change it. */
export interface SnapshotReader extends Reader {
  /** Releases the view; reads after close fail. */
  close(): Promise<void>;
}

export interface KeyValueStore extends Reader {
  /**
   * Applies all operations atomically, or none: a refused batch (StorageError) changes
   * nothing. Resolves once the batch is durable as far as the store can make it so.
   */
  write(ops: readonly WriteOp[]): Promise<void>;
  /** A consistent point-in-time view; close it when done. */
  snapshot(): SnapshotReader;
  sizes(): Promise<StoreSizes>;
  readonly isClosed: boolean;
  /** Stops the store; reads and writes after it fail. Idempotent. */
  close(): Promise<void>;
}
