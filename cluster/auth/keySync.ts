// Replication of the API-key table between nodes. A change made on one node is pushed to
// every live node at once (`publish`); then every `syncIntervalMs` each node compares its
// table with one random peer's and both take what they lack (push-pull anti-entropy, as in
// the SWIM and Dynamo families), so a node that missed the push, or was partitioned, has
// the change within a few rounds. A key's summary is its id and whether it is revoked,
// because nothing else about a key ever changes; records then move in bounded batches.
//
//   auth.summary {}                 -> [[id, revoked 0|1], ...]
//   auth.records { ids: [...] }     -> [record, ...]   (at most syncBatchRecords ids)
//   auth.put { records: [...] }     -> { applied }     (at most syncBatchRecords records)

import { z } from 'zod';
import type { NodeClock } from '../clock.js';
import type { Router } from '../routing/router.js';
import type { RpcServer } from '../routing/rpc.js';
import { BadInputError } from '../../src/errors.js';
import type { AuthSettings } from '../../src/auth/authSettings.js';
import { apiKeyRecordSchema, isKeyId, type ApiKeyRecord } from '../../src/auth/keyRecord.js';
import type { KeyTable } from '../../src/auth/keyTable.js';

export const keyOperations = { summary: 'auth.summary', records: 'auth.records', put: 'auth.put' } as const;

export interface KeySyncStats {
  rounds: number;
  failedRounds: number;
  recordsFetched: number;
  recordsPushed: number;
  /** Records from peers that failed validation and were dropped. */
  recordsRefused: number;
}

export interface KeySyncOptions {
  table: KeyTable;
  router: Router;
  rpc: RpcServer;
  clock: NodeClock;
  random: () => number;
  settings: AuthSettings;
  /** Live members other than this node. */
  peers: () => string[];
}

const summarySchema = z.array(z.tuple([z.string(), z.union([z.literal(0), z.literal(1)])]));

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class KeySync {
  readonly stats: KeySyncStats = { rounds: 0, failedRounds: 0, recordsFetched: 0, recordsPushed: 0, recordsRefused: 0 };
  private stopTimer: (() => void) | undefined;
  private running = false;

  constructor(private readonly options: KeySyncOptions) {}

  start(): void {
    const { rpc, table, settings, clock } = this.options;
    rpc.handle(keyOperations.summary, () => Promise.resolve(table.summary()));
    rpc.handle(keyOperations.records, (body) => Promise.resolve(this.answerRecords(body)));
    rpc.handle(keyOperations.put, async (body) => ({ applied: (await table.apply(this.validRecords(body), clock.nowMs())).length }));
    this.stopTimer = clock.every(settings.syncIntervalMs, () => void this.round());
  }

  stop(): void {
    this.stopTimer?.();
  }

  /** Pushes changed records to every live node; a node that does not answer gets them from a later round. */
  async publish(records: readonly ApiKeyRecord[]): Promise<void> {
    await Promise.allSettled(this.options.peers().map((peer) => this.push(peer, records)));
  }

  /** One exchange with a random live peer; rounds never overlap. */
  async round(): Promise<void> {
    const { peers, random, table, clock } = this.options;
    if (this.running) return;
    this.running = true;
    try {
      await table.prune(clock.nowMs());
      const candidates = peers();
      if (candidates.length === 0) return;
      const peer = candidates[Math.floor(random() * candidates.length)]!;
      this.stats.rounds++;
      const theirs = summarySchema.parse(await this.call(peer, keyOperations.summary, {}));
      const known = new Map(theirs);
      const need = theirs.filter(([id, revoked]) => isKeyId(id) && (table.get(id) === undefined || (revoked === 1 && table.get(id)!.revokedAt === null))).map(([id]) => id);
      const give = table.list().filter((record) => {
        const state = known.get(record.id);
        return state === undefined || (state === 0 && record.revokedAt !== null);
      });
      for (const ids of chunks(need, this.options.settings.syncBatchRecords)) {
        const records = this.validRecords({ records: await this.call(peer, keyOperations.records, { ids }) });
        this.stats.recordsFetched += records.length;
        await table.apply(records, clock.nowMs());
      }
      await this.push(peer, give);
    } catch {
      // The peer left or is slow; the next round picks another.
      this.stats.failedRounds++;
    } finally {
      this.running = false;
    }
  }

  private async push(peer: string, records: readonly ApiKeyRecord[]): Promise<void> {
    for (const batch of chunks(records, this.options.settings.syncBatchRecords)) {
      await this.call(peer, keyOperations.put, { records: batch });
      this.stats.recordsPushed += batch.length;
    }
  }

  private call(peer: string, op: string, body: unknown): Promise<unknown> {
    return this.options.router.callOnce(peer, op, body, {}, this.options.settings.syncTimeoutMs);
  }

  private answerRecords(body: unknown): ApiKeyRecord[] {
    const ids = (body as { ids?: unknown } | null)?.ids;
    if (!Array.isArray(ids) || ids.length > this.options.settings.syncBatchRecords) throw new BadInputError(`auth.records takes at most ${this.options.settings.syncBatchRecords} ids`);
    return ids.flatMap((id) => {
      const record = isKeyId(id) ? this.options.table.get(id) : undefined;
      return record === undefined ? [] : [record];
    });
  }

  /** The records of a peer's message that pass validation; the rest are counted and dropped. */
  private validRecords(body: unknown): ApiKeyRecord[] {
    const records = (body as { records?: unknown } | null)?.records;
    if (!Array.isArray(records) || records.length > this.options.settings.syncBatchRecords) throw new BadInputError(`auth.put takes at most ${this.options.settings.syncBatchRecords} records`);
    const valid: ApiKeyRecord[] = [];
    for (const record of records) {
      const parsed = apiKeyRecordSchema.safeParse(record);
      if (parsed.success) valid.push(parsed.data);
      else this.stats.recordsRefused++;
    }
    return valid;
  }
}
