// The typed RocksDB wrapper. Nothing else in the code base imports rocksdb-native.
// Writes go through `write`, which applies one atomic batch: either every key of a
// mutation (data, index entries, operation-log entry) lands, or none does. The contract it
// implements, shared with the in-memory store, is written in keyValueStore.ts.

import { traced, tracedChild } from '../telemetry.js';
import RocksDB from 'rocksdb-native';
import { StorageError } from '../errors.js';
import type { KeyValueStore, Reader, ScanRange, SnapshotReader, StoreSizes, WriteOp } from './keyValueStore.js';

export type { KeyValueStore, Reader, ScanRange, SnapshotReader, StoreSizes, WriteOp } from './keyValueStore.js';

const READ_ATTRIBUTES = { 'db.system': 'rocksdb' } as const;

class RocksReader implements Reader {
  constructor(protected readonly db: RocksDB) {}

  get(key: Buffer): Promise<Buffer | null> {
    return tracedChild('rocksdb.get', () => this.getOne(key), READ_ATTRIBUTES);
  }

  getMany(keys: readonly Buffer[]): Promise<(Buffer | null)[]> {
    if (keys.length === 0) return Promise.resolve([]);
    return tracedChild('rocksdb.read', () => this.readBatch(keys), { ...READ_ATTRIBUTES, 'engram.keys': keys.length });
  }

  private async getOne(key: Buffer): Promise<Buffer | null> {
    try {
      return await this.db.get(key);
    } catch (cause) {
      throw new StorageError('RocksDB read failed', { cause });
    }
  }

  private async readBatch(keys: readonly Buffer[]): Promise<(Buffer | null)[]> {
    const batch = this.db.read({ capacity: keys.length });
    try {
      const pending = keys.map((key) => batch.get(key));
      await batch.flush();
      return await Promise.all(pending);
    } catch (cause) {
      throw new StorageError('RocksDB read failed', { cause });
    } finally {
      batch.destroy();
    }
  }

  async *scan(range: ScanRange): AsyncIterable<{ key: Buffer; value: Buffer }> {
    const iterator = this.db.iterator({ ...range, capacity: Math.min(range.limit ?? 64, 256) });
    try {
      for await (const entry of iterator) yield entry;
    } finally {
      iterator.destroy();
    }
  }
}

export class Snapshot extends RocksReader implements SnapshotReader {
  async close(): Promise<void> {
    await this.db.close();
  }
}

export class Store extends RocksReader implements KeyValueStore {
  private closed = false;

  private constructor(db: RocksDB, readonly path: string) {
    super(db);
  }

  static async open(path: string): Promise<Store> {
    const db = new RocksDB(path, { createIfMissing: true });
    try {
      await db.ready();
    } catch (cause) {
      throw new StorageError(`Cannot open RocksDB at ${path}`, { cause });
    }
    return new Store(db, path);
  }

  /** Applies all operations atomically. Resolves once RocksDB has written them to its WAL. */
  async write(ops: readonly WriteOp[]): Promise<void> {
    if (ops.length === 0) return;
    return traced('rocksdb.write', () => this.writeBatch(ops), { attributes: { 'db.system': 'rocksdb', 'engram.ops': ops.length } });
  }

  private async writeBatch(ops: readonly WriteOp[]): Promise<void> {
    const batch = this.db.write({ capacity: ops.length });
    try {
      for (const op of ops) {
        if (op.type === 'put') batch.tryPut(op.key, op.value);
        else if (op.type === 'del') batch.tryDelete(op.key);
        else batch.tryDeleteRange(op.start, op.end);
      }
      await batch.flush();
    } catch (cause) {
      throw new StorageError('RocksDB batch write failed; nothing was applied', { cause });
    } finally {
      batch.destroy();
    }
  }

  /** A consistent point-in-time view; close it when done. */
  snapshot(): Snapshot {
    return new Snapshot(this.db.snapshot());
  }

  async sizes(): Promise<StoreSizes> {
    const read = async (name: string): Promise<number> => Number(await this.db.getProperty(name)) || 0;
    const [sstBytes, memtableBytes, liveDataBytes] = await Promise.all([
      read('rocksdb.total-sst-files-size'),
      read('rocksdb.cur-size-all-mem-tables'),
      read('rocksdb.estimate-live-data-size'),
    ]);
    return { sstBytes, memtableBytes, liveDataBytes };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.close({ force: true });
  }
}
