// Online backup reads on the node that holds a shard. A session pins one RocksDB snapshot
// of the shard, taken inside the space's write queue together with the shard's log position,
// so every page of the session reads the same instant while writes go on. Pages are bounded
// by bytes and by keys scanned; sessions are bounded in number and expire when idle, since a
// snapshot holds old data on disk for as long as it is open.

import { randomBytes } from 'node:crypto';
import type { Engine } from '../engine/engine.js';
import type { RecordCopy } from '../engine/shardSync.js';
import { decodeRecord, encodeEmbedding } from '../engine/recordCodec.js';
import { AdjacencyCache, SpaceReader } from '../engine/spaceReader.js';
import { UnavailableError, BadInputError } from '../errors.js';
import { keys, prefixEnd } from '../storage/keys.js';
import type { SnapshotReader } from '../storage/keyValueStore.js';
import { recordLine } from './backupFormat.js';

export interface BackupSettings {
  /** Open sessions per node; each pins a RocksDB snapshot. */
  maxSessions: number;
  /** A session not read for this long is closed and its snapshot released. */
  idleTimeoutMs: number;
  /** Bytes of record lines in one page; a page must fit a NATS message when it is forwarded. */
  maxPageBytes: number;
  /** Keys scanned for one page, so a shard with few of a large space's records still answers promptly. */
  maxScannedPerPage: number;
}

export const defaultBackupSettings: BackupSettings = {
  // 4: a backup reads one shard at a time; a few operators (or a retry) at once still fit,
  // and four pinned snapshots hold at most four times the data written during a backup.
  maxSessions: 4,
  // 60 s: a client reads the next page within milliseconds; a minute covers a stalled
  // terminal or a slow disk on the client, and releases a forgotten snapshot soon.
  idleTimeoutMs: 60_000,
  // 512 KiB: well under NATS's 1 MiB default payload with the RPC envelope, and about 160
  // records of 768 dimensions a page.
  maxPageBytes: 512 * 1024,
  // 20,000: a few milliseconds of RocksDB iteration.
  maxScannedPerPage: 20_000,
};

export interface BackupPage {
  space: string;
  shard: number;
  /** The shard's operation-log position the session's snapshot holds. */
  seq: number;
  /** The node that read it. */
  node: string;
  /** Record lines (backupFormat.ts), newline-separated. */
  lines: string;
  count: number;
  /** Null when the shard is done. */
  cursor: string | null;
}

type Phase = 'M' | 'X';

interface Session {
  id: string;
  space: string;
  shard: number;
  snapshot: SnapshotReader;
  seq: number;
  lastUsedMs: number;
}

interface Cursor {
  session: string;
  phase: Phase;
  after: string | null;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.session, cursor.phase, cursor.after])).toString('base64url');
}

function decodeCursor(raw: string): Cursor {
  try {
    const [session, phase, after] = JSON.parse(Buffer.from(raw, 'base64url').toString()) as unknown[];
    if (typeof session === 'string' && (phase === 'M' || phase === 'X') && (after === null || typeof after === 'string')) return { session, phase, after };
  } catch {
    // Falls through to the refusal.
  }
  throw new BadInputError('The backup cursor is not one this node issued');
}

export class BackupSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly timer: NodeJS.Timeout;
  /** Sessions refused because every slot was taken, and closed for being idle. */
  refused = 0;
  expired = 0;

  constructor(
    private readonly engine: Engine,
    readonly settings: BackupSettings,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.timer = setInterval(() => void this.expire(), Math.max(1000, settings.idleTimeoutMs / 4));
    this.timer.unref();
  }

  get open(): number {
    return this.sessions.size;
  }

  /** The next page of a shard: a new session when `cursor` is null. */
  async page(space: string, shard: number, cursor: string | null, maxBytes = this.settings.maxPageBytes): Promise<BackupPage> {
    await this.expire();
    const local = this.engine.space(space);
    if (!Number.isInteger(shard) || shard < 0 || shard >= local.definition.shards) throw new BadInputError(`Shard ${shard} is not a shard of "${space}" (it has ${local.definition.shards})`);
    const position = cursor === null ? { session: await this.openSession(space, shard), phase: 'M' as Phase, after: null } : decodeCursor(cursor);
    const session = this.sessions.get(position.session);
    if (session === undefined || session.space !== space || session.shard !== shard) {
      throw new UnavailableError('The backup session expired or was read from another node; start this shard again', 0, { details: { restartShard: true } });
    }
    session.lastUsedMs = this.nowMs();
    const read = await this.read(session, position, Math.min(maxBytes, this.settings.maxPageBytes));
    if (read.next === null) await this.close(session);
    return { space, shard, seq: session.seq, node: this.engine.nodeId, lines: read.lines.join('\n'), count: read.lines.length, cursor: read.next === null ? null : encodeCursor(read.next) };
  }

  private async openSession(space: string, shard: number): Promise<string> {
    if (this.sessions.size >= this.settings.maxSessions) {
      this.refused++;
      throw new UnavailableError(`This node has ${this.settings.maxSessions} backups open; try again when one finishes`, 5000);
    }
    const local = this.engine.space(space);
    // Inside the write queue no commit is half done: the snapshot and the position agree.
    const { snapshot, seq } = await local.queue.run(() => Promise.resolve({ snapshot: this.engine.database.snapshot(), seq: local.shardSeqs[shard] ?? 0 }));
    const id = randomBytes(12).toString('base64url');
    this.sessions.set(id, { id, space, shard, snapshot, seq, lastUsedMs: this.nowMs() });
    return id;
  }

  private async read(session: Session, from: Cursor, maxBytes: number): Promise<{ lines: string[]; next: Cursor | null }> {
    const space = this.engine.space(session.space);
    const reader = new SpaceReader(session.snapshot, session.space, new AdjacencyCache(0));
    const lines: string[] = [];
    let bytes = 0;
    let scanned = 0;
    let phase = from.phase;
    let after = from.after;
    for (;;) {
      const prefix = phase === 'M' ? keys.memories(session.space) : keys.tombstones(session.space);
      const start = after === null ? prefix : Buffer.concat([phase === 'M' ? keys.memory(session.space, after) : keys.tombstone(session.space, after), Buffer.from([0])]);
      for await (const { value } of session.snapshot.scan({ gte: start, lt: prefixEnd(prefix) })) {
        const record = decodeRecord(value);
        scanned++;
        if (space.shardOf(record.id) === session.shard) {
          const copy = phase === 'M' ? await this.copyOf(reader, record.id, record) : { record: { ...record, deleted: true }, embedding: null, links: [] };
          const line = recordLine(session.shard, copy);
          if (lines.length > 0 && bytes + line.length + 1 > maxBytes) return { lines, next: { session: session.id, phase, after } };
          lines.push(line);
          bytes += line.length + 1;
        }
        after = record.id;
        if (scanned >= this.settings.maxScannedPerPage) return { lines, next: { session: session.id, phase, after } };
      }
      if (phase === 'X') return { lines, next: null };
      phase = 'X';
      after = null;
    }
  }

  private async copyOf(reader: SpaceReader, id: string, record: ReturnType<typeof decodeRecord>): Promise<RecordCopy> {
    const embedding = record.hasEmbedding ? await reader.embedding(id) : null;
    return { record, embedding: embedding === null ? null : encodeEmbedding(embedding).toString('base64'), links: await reader.associationsUncached(id, Number.MAX_SAFE_INTEGER) };
  }

  private async close(session: Session): Promise<void> {
    this.sessions.delete(session.id);
    await session.snapshot.close().catch(() => undefined);
  }

  private async expire(): Promise<void> {
    const now = this.nowMs();
    for (const session of [...this.sessions.values()]) {
      if (now - session.lastUsedMs < this.settings.idleTimeoutMs) continue;
      this.expired++;
      await this.close(session);
    }
  }

  /** Releases every snapshot (the node is stopping). */
  async closeAll(): Promise<void> {
    clearInterval(this.timer);
    for (const session of [...this.sessions.values()]) await this.close(session);
  }
}
