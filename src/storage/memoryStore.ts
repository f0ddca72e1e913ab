// An in-memory ordered key-value store with the contract of the RocksDB store (see
// keyValueStore.ts), so the engine can run inside the deterministic cluster simulator: no
// native addon, no file, no timer. Every result resolves through Promise microtasks only.
//
// Mechanism: keys and values live in two parallel arrays sorted by key bytes; lookups are
// binary searches, and a put or delete splices the arrays. Snapshots and running scans
// share the arrays copy-on-write: they pin the current table, and the next write while a
// pin is held copies the table first, so what they read never changes. A batch is applied
// with an undo list and rolled back whole when it fails (a range with end before start,
// or the store's byte bound exceeded), which makes every write atomic.
//
// Crash and reopen: the data lives in this object, not in an engine. `close()` is
// reversible: it stops the store (every later read, write, snapshot read and scan step
// fails with StorageError, as they would on a dead process) and `reopen()` serves the same
// data again. A simulator models a crash by dropping the engine and, to cut off the work
// the dropped engine still has in flight, calling `close()` at the crash instant and
// `reopen()` before opening the next engine on this store. Writes are applied at the
// moment `write` is called, so a write is either wholly in the store or wholly absent.

import { StorageError } from '../errors.js';
import type { KeyValueStore, ScanRange, SnapshotReader, StoreSizes, WriteOp } from './keyValueStore.js';

/**
 * Default bound on the bytes a MemoryStore holds (keys plus values): 256 MiB. A simulated
 * node holds test-sized data, and eight such nodes still fit in Node's default heap.
 */
export const MEMORY_STORE_MAX_BYTES = 256 * 1024 * 1024;

export interface MemoryStoreOptions {
  /** Most bytes (keys plus values) the store holds; a batch past it is refused whole. Default MEMORY_STORE_MAX_BYTES. */
  maxBytes?: number;
}

type Entry = { key: Buffer; value: Buffer };
/** How to undo one change: the key and the value it had before (undefined: absent). */
type Undo = { key: Buffer; previous: Buffer | undefined };

/** Sorted parallel arrays of keys and values, with the bytes they hold. */
class SortedTable {
  keys: Buffer[] = [];
  values: Buffer[] = [];
  bytes = 0;
  /** Snapshots and scans reading this table; while above 0 a write copies it first. */
  pins = 0;

  clone(): SortedTable {
    const copy = new SortedTable();
    copy.keys = this.keys.slice();
    copy.values = this.values.slice();
    copy.bytes = this.bytes;
    return copy;
  }

  /** First index whose key is >= `key` (or > `key` when `after`). */
  search(key: Buffer, after: boolean): number {
    let low = 0;
    let high = this.keys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const order = Buffer.compare(this.keys[middle]!, key);
      if (order < 0 || (after && order === 0)) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  get(key: Buffer): Buffer | undefined {
    const i = this.search(key, false);
    return i < this.keys.length && this.keys[i]!.equals(key) ? this.values[i] : undefined;
  }

  /** Sets `key` (already copied) and returns its previous value. */
  set(key: Buffer, value: Buffer): Buffer | undefined {
    const i = this.search(key, false);
    if (i < this.keys.length && this.keys[i]!.equals(key)) {
      const previous = this.values[i]!;
      this.values[i] = value;
      this.bytes += value.length - previous.length;
      return previous;
    }
    this.keys.splice(i, 0, key);
    this.values.splice(i, 0, value);
    this.bytes += key.length + value.length;
    return undefined;
  }

  delete(key: Buffer): Buffer | undefined {
    const i = this.search(key, false);
    if (i >= this.keys.length || !this.keys[i]!.equals(key)) return undefined;
    const previous = this.values[i]!;
    this.keys.splice(i, 1);
    this.values.splice(i, 1);
    this.bytes -= key.length + previous.length;
    return previous;
  }

  /** Deletes keys in [start, end) and returns them with their values. */
  deleteRange(start: Buffer, end: Buffer): Entry[] {
    const from = this.search(start, false);
    const to = this.search(end, false);
    if (to <= from) return [];
    const keys = this.keys.splice(from, to - from);
    const values = this.values.splice(from, to - from);
    const removed = keys.map((key, i) => ({ key, value: values[i]! }));
    for (const { key, value } of removed) this.bytes -= key.length + value.length;
    return removed;
  }

  /** The index range [from, to) a scan covers; empty bounds are absent, as in rocksdb-native. */
  bounds(range: ScanRange): [number, number] {
    const given = (bound: Buffer | undefined): bound is Buffer => bound !== undefined && bound !== null && bound.length > 0;
    let from = 0;
    let to = this.keys.length;
    if (given(range.gte)) from = Math.max(from, this.search(range.gte, false));
    if (given(range.gt)) from = Math.max(from, this.search(range.gt, true));
    if (given(range.lt)) to = Math.min(to, this.search(range.lt, false));
    if (given(range.lte)) to = Math.min(to, this.search(range.lte, true));
    return [from, to];
  }
}

function copyEntry(table: SortedTable, i: number): Entry {
  return { key: Buffer.from(table.keys[i]!), value: Buffer.from(table.values[i]!) };
}

/** Entries of `range` in `table`; `check` runs before each one and throws once reading must stop. */
async function* scanTable(table: SortedTable, range: ScanRange, check: () => void): AsyncGenerator<Entry> {
  const [from, to] = table.bounds(range);
  let remaining = range.limit === undefined || range.limit < 0 ? Infinity : range.limit;
  if (range.reverse === true) {
    for (let i = to - 1; i >= from && remaining > 0; i--, remaining--) {
      check();
      yield copyEntry(table, i);
    }
  } else {
    for (let i = from; i < to && remaining > 0; i++, remaining--) {
      check();
      yield copyEntry(table, i);
    }
  }
}

function readOne(table: SortedTable, key: Buffer): Buffer | null {
  const value = table.get(key);
  return value === undefined ? null : Buffer.from(value);
}

/** Refuses a malformed batch before anything is applied, as RocksDB does. */
function validateOps(ops: readonly WriteOp[]): void {
  for (const op of ops) {
    if (op.type === 'put') {
      if (!Buffer.isBuffer(op.key) || !Buffer.isBuffer(op.value)) throw new StorageError('MemoryStore put needs Buffer key and value; nothing was applied');
    } else if (op.type === 'del') {
      if (!Buffer.isBuffer(op.key)) throw new StorageError('MemoryStore del needs a Buffer key; nothing was applied');
    } else if (op.type === 'delRange') {
      if (!Buffer.isBuffer(op.start) || !Buffer.isBuffer(op.end)) throw new StorageError('MemoryStore delRange needs Buffer bounds; nothing was applied');
      // RocksDB refuses the whole batch: "end key comes before start key".
      if (Buffer.compare(op.start, op.end) > 0) throw new StorageError('MemoryStore delRange end key comes before start key; nothing was applied');
    } else {
      throw new StorageError(`MemoryStore got an unknown write operation ${String((op as { type: unknown }).type)}; nothing was applied`);
    }
  }
}

function apply(table: SortedTable, op: WriteOp, undo: Undo[]): void {
  if (op.type === 'put') {
    const key = Buffer.from(op.key);
    undo.push({ key, previous: table.set(key, Buffer.from(op.value)) });
  } else if (op.type === 'del') {
    const previous = table.delete(op.key);
    if (previous !== undefined) undo.push({ key: Buffer.from(op.key), previous });
  } else {
    for (const { key, value } of table.deleteRange(op.start, op.end)) undo.push({ key, previous: value });
  }
}

function rollback(table: SortedTable, undo: Undo[]): void {
  for (let i = undo.length - 1; i >= 0; i--) {
    const { key, previous } = undo[i]!;
    if (previous === undefined) table.delete(key);
    else table.set(key, previous);
  }
}

/** A point-in-time view over a pinned table; it fails once closed or once its store closes. */
class MemorySnapshot implements SnapshotReader {
  private table: SortedTable | null;

  constructor(
    table: SortedTable,
    private readonly storeAlive: () => void,
  ) {
    this.table = table;
    table.pins++;
  }

  private open(): SortedTable {
    this.storeAlive();
    if (this.table === null) throw new StorageError('MemoryStore snapshot is closed');
    return this.table;
  }

  async get(key: Buffer): Promise<Buffer | null> {
    return readOne(this.open(), key);
  }

  async getMany(keys: readonly Buffer[]): Promise<(Buffer | null)[]> {
    const table = this.open();
    return keys.map((key) => readOne(table, key));
  }

  scan(range: ScanRange): AsyncIterable<Entry> {
    const snapshot = this;
    return (async function* () {
      yield* scanTable(snapshot.open(), range, () => void snapshot.open());
    })();
  }

  async close(): Promise<void> {
    if (this.table === null) return;
    this.table.pins--;
    this.table = null;
  }
}

export class MemoryStore implements KeyValueStore {
  readonly maxBytes: number;
  private table = new SortedTable();
  private closed = false;
  /** Moves on every close, so scans and snapshots begun before it stop even after a reopen. */
  private epoch = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.maxBytes = options.maxBytes ?? MEMORY_STORE_MAX_BYTES;
    if (!Number.isSafeInteger(this.maxBytes) || this.maxBytes <= 0) throw new RangeError(`MemoryStore maxBytes must be a positive integer, got ${String(this.maxBytes)}`);
  }

  /** Bytes held now (keys plus values). */
  get bytes(): number {
    return this.table.bytes;
  }

  /** Entries held now. */
  get entryCount(): number {
    return this.table.keys.length;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageError('MemoryStore is closed');
  }

  /** A check that fails once the store closes after it was made. */
  private aliveSince(): () => void {
    const epoch = this.epoch;
    return () => {
      if (this.epoch !== epoch || this.closed) throw new StorageError('MemoryStore closed during the read');
    };
  }

  async get(key: Buffer): Promise<Buffer | null> {
    this.assertOpen();
    return readOne(this.table, key);
  }

  async getMany(keys: readonly Buffer[]): Promise<(Buffer | null)[]> {
    this.assertOpen();
    return keys.map((key) => readOne(this.table, key));
  }

  /** Reads the state as of the scan's first step (like a RocksDB iterator). */
  scan(range: ScanRange): AsyncIterable<Entry> {
    const store = this;
    return (async function* () {
      store.assertOpen();
      const table = store.table;
      table.pins++;
      try {
        yield* scanTable(table, range, store.aliveSince());
      } finally {
        table.pins--;
      }
    })();
  }

  /** Applies all operations or none; refuses a batch that would hold more than `maxBytes`. */
  async write(ops: readonly WriteOp[]): Promise<void> {
    this.assertOpen();
    if (ops.length === 0) return;
    validateOps(ops);
    if (this.table.pins > 0) this.table = this.table.clone();
    const table = this.table;
    const before = table.bytes;
    const undo: Undo[] = [];
    try {
      for (const op of ops) apply(table, op, undo);
    } catch (cause) {
      rollback(table, undo);
      throw new StorageError('MemoryStore batch write failed; nothing was applied', { cause });
    }
    if (table.bytes > this.maxBytes && table.bytes > before) {
      const wanted = table.bytes;
      rollback(table, undo);
      throw new StorageError(`MemoryStore is full: the batch would make it hold ${wanted} bytes, past its maximum of ${this.maxBytes}; nothing was applied`, {
        details: { maxBytes: this.maxBytes, bytes: wanted },
      });
    }
  }

  snapshot(): SnapshotReader {
    this.assertOpen();
    return new MemorySnapshot(this.table, this.aliveSince());
  }

  async sizes(): Promise<StoreSizes> {
    return { sstBytes: 0, memtableBytes: this.table.bytes, liveDataBytes: this.table.bytes };
  }

  /** A synchronous read, open or closed: the simulator's checkers look into every store at one instant. */
  peek(key: Buffer): Buffer | null {
    return readOne(this.table, key);
  }

  /** A synchronous scan of `range`, open or closed, for the simulator's checkers. */
  peekRange(range: ScanRange): Entry[] {
    const [from, to] = this.table.bounds(range);
    const out: Entry[] = [];
    for (let i = from; i < to; i++) out.push(copyEntry(this.table, i));
    return out;
  }

  /** Stops the store; the data stays, and `reopen()` serves it again. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.epoch++;
  }

  /** Serves the data again after `close()`, as a restarted node reopens its RocksDB. */
  reopen(): void {
    this.closed = false;
  }
}
