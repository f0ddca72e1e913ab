// Types for the parts of rocksdb-native (which ships none) that src/storage uses.
declare module 'rocksdb-native' {
  interface Range {
    gt?: Buffer;
    gte?: Buffer;
    lt?: Buffer;
    lte?: Buffer;
    reverse?: boolean;
    limit?: number;
    values?: boolean;
    capacity?: number;
  }
  interface ReadBatch {
    get(key: Buffer): Promise<Buffer | null>;
    flush(): Promise<void>;
    destroy(): void;
  }
  interface WriteBatch {
    put(key: Buffer, value: Buffer): Promise<void>;
    delete(key: Buffer): Promise<void>;
    deleteRange(start: Buffer, end: Buffer): Promise<void>;
    tryPut(key: Buffer, value: Buffer): void;
    tryDelete(key: Buffer): void;
    tryDeleteRange(start: Buffer, end: Buffer): void;
    flush(): Promise<void>;
    destroy(): void;
  }
  interface OpenOptions {
    createIfMissing?: boolean;
    maxBackgroundJobs?: number;
    bytesPerSync?: number;
  }
  class RocksDB {
    constructor(path: string, options?: OpenOptions);
    ready(): Promise<void>;
    close(options?: { force?: boolean }): Promise<void>;
    get(key: Buffer): Promise<Buffer | null>;
    read(options?: { capacity?: number }): ReadBatch;
    write(options?: { capacity?: number }): WriteBatch;
    iterator(range: Range): AsyncIterable<{ key: Buffer; value: Buffer }> & { destroy(): void };
    snapshot(): RocksDB;
    flush(): Promise<void>;
    getProperty(name: string): Promise<number | string>;
    readonly path: string;
  }
  export default RocksDB;
}
