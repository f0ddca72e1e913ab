// The node's copy of the API-key table: every key in memory, each stored in RocksDB under
// its own key (storage/keys.ts, family Y). Changes come from this node's admin calls and
// from peers (cluster/auth/keySync.ts); both go through `apply`, which merges, bounds and
// persists them, so the table on every node is the join of every copy it has seen.

import type { KeyValueStore } from '../storage/keyValueStore.js';
import { keys } from '../storage/keys.js';
import { apiKeyRecordSchema, mergeInto, sameRecord, type ApiKeyRecord } from './keyRecord.js';

export interface KeyTableOptions {
  maxApiKeys: number;
  expiredRetentionMs: number;
  /** Called with the records that changed, after they are durable. */
  onChange?: (changed: readonly ApiKeyRecord[]) => void;
  /** Counts records refused because the table is full. */
  onOverflow?: (count: number) => void;
}

export class KeyTable {
  private readonly records = new Map<string, ApiKeyRecord>();
  /** Writes of merged records, one after another, so a later state is never overwritten by an earlier one. */
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    private readonly store: KeyValueStore,
    private readonly options: KeyTableOptions,
  ) {}

  static async open(store: KeyValueStore, options: KeyTableOptions): Promise<KeyTable> {
    const table = new KeyTable(store, options);
    for await (const { value } of store.scan(keys.allApiKeys())) {
      const parsed = apiKeyRecordSchema.safeParse(JSON.parse(value.toString()));
      // A record that does not parse was written by no version of Engram; it grants nothing.
      if (parsed.success) table.records.set(parsed.data.id, parsed.data);
    }
    return table;
  }

  get size(): number {
    return this.records.size;
  }

  get(id: string): ApiKeyRecord | undefined {
    return this.records.get(id);
  }

  list(): ApiKeyRecord[] {
    return [...this.records.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  /** Each key's id and whether it is revoked: all a peer needs to tell what it lacks. */
  summary(): [string, 0 | 1][] {
    return [...this.records.values()].map((record) => [record.id, record.revokedAt === null ? 0 : 1]);
  }

  /** Whether a key long past its expiry should be dropped rather than kept or accepted. */
  private expiredLongAgo(record: ApiKeyRecord, nowMs: number): boolean {
    return record.expiresAt !== null && record.expiresAt + this.options.expiredRetentionMs < nowMs;
  }

  /**
   * Merges records into the table and stores the ones that changed. New keys beyond
   * `maxApiKeys` are refused and counted; keys long expired are neither kept nor taken.
   * The table changes only once the changes are durable, and calls run one at a time.
   */
  apply(incoming: readonly ApiKeyRecord[], nowMs: number): Promise<ApiKeyRecord[]> {
    return this.serial(async () => {
      let room = this.options.maxApiKeys - this.records.size;
      let refused = 0;
      const merged = new Map<string, ApiKeyRecord>();
      for (const record of incoming) {
        if (this.expiredLongAgo(record, nowMs)) continue;
        const current = merged.get(record.id) ?? this.records.get(record.id);
        if (current === undefined) {
          if (room <= 0) {
            refused++;
            continue;
          }
          room--;
        } else merged.set(record.id, current);
        mergeInto(merged, [record]);
      }
      if (refused > 0) this.options.onOverflow?.(refused);
      const changed = [...merged.values()].filter((record) => {
        const current = this.records.get(record.id);
        return current === undefined || !sameRecord(current, record);
      });
      if (changed.length === 0) return changed;
      await this.store.write(changed.map((record) => ({ type: 'put' as const, key: keys.apiKey(record.id), value: Buffer.from(JSON.stringify(record)) })));
      for (const record of changed) this.records.set(record.id, record);
      this.options.onChange?.(changed);
      return changed;
    });
  }

  /** Drops keys long past their expiry, here and in storage; every node does the same. */
  async prune(nowMs: number): Promise<number> {
    const dropped = [...this.records.values()].filter((record) => this.expiredLongAgo(record, nowMs));
    if (dropped.length === 0) return 0;
    return this.serial(async () => {
      await this.store.write(dropped.map((record) => ({ type: 'del' as const, key: keys.apiKey(record.id) })));
      for (const record of dropped) this.records.delete(record.id);
      return dropped.length;
    });
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.writes.then(work);
    // A failed write fails its caller; the chain goes on for the next one.
    this.writes = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}
