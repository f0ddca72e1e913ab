// The replication storage port as a plain in-memory model, for unit tests of the core and
// for simulations. It keeps, per (space, shard), the log as an array of shipped entries, the
// epoch and history that describe it, and the install marker; per shard the records by id;
// the hand-back records; and the known members. Every method is one atomic step, so it
// behaves like a store whose batches always land whole, and it follows the port's JSDoc and
// the engine's port (engineStorage.ts, shardSync.ts) rule for rule:
//
// - apply skips entries already held and stops at the first gap; the epoch and the source's
//   history cut at what was applied move only when an entry was applied.
// - truncate writes a hand-back for every memory the cut entries touched (its local copy, or
//   its delete) in the same step as the cut and the shortened history; records stay as they
//   are, as in the engine, until catching up or a hand-back merge writes them.
// - an install is staged: beginInstall empties the log and history and sets the marker (and
//   clears the records), finishInstall restarts the log with a snapshot marker at `seq`.
// - mergeOwnHandBacks turns the shard's own hand-backs into new log entries, merged by
//   version (merge.ts) as the engine's mergeRecord merges them, and removes them.
//
// Beyond the port: `commitLocal` is a primary's own write (the engine's group commit),
// `compact` prunes a log as the engine's checkpoint does, and `commitListener` is told about
// every committed entry, as the engine's commit listener is, so a shell can call onCommitted.
// Entries are stored with their fields in the order the engine's readLog builds them, since
// the batch checksum depends on it. Values going in and out are deep copies, so a node's
// state never aliases another node's message or a core's arrays: a "crash" that keeps only
// this object keeps only what was stored.

import { assert, NotFoundError } from '../../src/errors.js';
import { joinCutCopies, legacyTombstone, mergeCopies } from '../conflict/memoryState.js';
import { entryIds } from '../../src/engine/shardSync.js';
import type { OperationType } from '../../src/storage/operationLog.js';
import type { SpaceDefinition } from '../../src/engine/types.js';
import { NO_EPOCH, type Epoch } from './epoch.js';
import { historyUpTo, type EpochHistory } from './epochHistory.js';
import { entryBytes } from './logBatch.js';
import type { HandBack, KnownMember, RecordCopy, ReplicationStorage, ShardPosition, ShippedEntry, SnapshotChunk } from './storagePort.js';

interface ShardState {
  space: string;
  shard: number;
  /** Contiguous entries ending at `lastSeq`; older ones may have been compacted away. */
  log: ShippedEntry[];
  lastSeq: number;
  epoch: Epoch;
  history: EpochHistory;
  installing: boolean;
  records: Map<string, RecordCopy>;
  /** Deleted memories' tombstones, by id, as the engine keeps them under `X`. */
  tombstones: Map<string, RecordCopy['record']>;
}

interface RecordPayload {
  memory: RecordCopy['record'];
  embedding: string | null;
  links?: RecordCopy['links'];
}

interface IdPayload {
  id: string;
  version?: Record<string, number>;
  tombstone?: RecordCopy['record'];
}

interface TouchPayload {
  touches: { id: string; lastAccess: number; accessCount: number; activation: number; activatedAt?: number }[];
}

/** Key order of the engine's store: strings compare by their UTF-8 bytes. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function compareHandBacks(a: HandBack, b: HandBack): number {
  return compareBytes(a.space, b.space) || a.shard - b.shard || a.cutSeq - b.cutSeq || compareBytes(a.id, b.id);
}

function isSnapshotMarker(entry: ShippedEntry): boolean {
  return entry.type === 'CHECKPOINT' && (entry.payload as { snapshot?: boolean } | null)?.snapshot === true;
}

const copy = <T>(value: T): T => structuredClone(value);

export class MemoryStorage implements ReplicationStorage {
  private readonly definitions = new Map<string, SpaceDefinition>();
  private readonly shards = new Map<string, ShardState>();
  private readonly waiting: HandBack[] = [];
  private members: KnownMember[] = [];
  /**
   * Told about every entry committed to a log (a local write, an applied entry, a merged
   * hand-back, a finished install), as the engine's commit listener is: the shell feeds it
   * to the core's onCommitted.
   */
  commitListener: ((space: string, shard: number, seq: number) => void) | undefined;

  constructor(definitions: readonly SpaceDefinition[] = []) {
    for (const definition of definitions) this.definitions.set(definition.id, copy(definition));
  }

  private state(space: string, shard: number): ShardState {
    const definition = this.definitions.get(space);
    if (definition === undefined) throw new NotFoundError(`Memory space "${space}" does not exist`, { details: { space } });
    assert(Number.isInteger(shard) && shard >= 0 && shard < definition.shards, 'a shard of the space');
    const key = `${space}/${shard}`;
    let state = this.shards.get(key);
    if (state === undefined) {
      state = { space, shard, log: [], lastSeq: 0, epoch: NO_EPOCH, history: [], installing: false, records: new Map(), tombstones: new Map() };
      this.shards.set(key, state);
    }
    return state;
  }

  // ---- spaces -------------------------------------------------------------------------

  spaces(): readonly SpaceDefinition[] {
    return [...this.definitions.values()].map(copy);
  }

  definition(space: string): SpaceDefinition | undefined {
    const definition = this.definitions.get(space);
    return definition === undefined ? undefined : copy(definition);
  }

  async ensureSpace(definition: SpaceDefinition): Promise<void> {
    if (!this.definitions.has(definition.id)) this.definitions.set(definition.id, copy(definition));
  }

  // ---- position -----------------------------------------------------------------------

  async load(space: string, shard: number): Promise<ShardPosition> {
    const state = this.state(space, shard);
    return { lastSeq: state.lastSeq, epoch: copy(state.epoch), history: copy(state.history), installing: state.installing };
  }

  async settle(space: string, shard: number): Promise<number> {
    return this.state(space, shard).lastSeq;
  }

  async saveEpoch(space: string, shard: number, epoch: Epoch, history: EpochHistory): Promise<void> {
    const state = this.state(space, shard);
    state.epoch = copy(epoch);
    state.history = copy(history);
  }

  // ---- the log ------------------------------------------------------------------------

  /**
   * A write this node accepted as primary (the engine's group commit): the entry goes at the
   * next sequence and the record changes with it. Not part of the port; returns the sequence.
   */
  commitLocal(space: string, shard: number, type: OperationType, payload: unknown, timestampMs: number): number {
    const state = this.state(space, shard);
    const entry: ShippedEntry = { seq: state.lastSeq + 1, type, timestampMs, payload: copy(payload) };
    this.append(state, entry);
    return entry.seq;
  }

  /** Drops log entries up to `throughSeq`, as the engine's checkpoint prunes a log behind its retention. Not part of the port. */
  compact(space: string, shard: number, throughSeq: number): void {
    const state = this.state(space, shard);
    state.log = state.log.filter((entry) => entry.seq > throughSeq);
  }

  /** The log as stored, for assertions. Not part of the port. */
  logOf(space: string, shard: number): ShippedEntry[] {
    return copy(this.state(space, shard).log);
  }

  /** The shard's records by id, for assertions. Not part of the port. */
  recordsOf(space: string, shard: number): Map<string, RecordCopy> {
    return copy(this.state(space, shard).records);
  }

  async readLog(space: string, shard: number, fromSeq: number, maxEntries: number, maxBytes: number): Promise<ShippedEntry[] | 'compacted'> {
    const state = this.state(space, shard);
    if (fromSeq > state.lastSeq) return [];
    const out: ShippedEntry[] = [];
    let bytes = 0;
    for (const entry of state.log) {
      if (entry.seq < fromSeq) continue;
      if (out.length >= maxEntries) break;
      // Not held from `fromSeq` on (pruned, or restarted by a snapshot): the caller installs a snapshot.
      if (entry.seq !== fromSeq + out.length || isSnapshotMarker(entry)) break;
      const size = entryBytes(entry);
      if (out.length > 0 && bytes + size > maxBytes) break;
      out.push(copy(entry));
      bytes += size;
    }
    return out.length === 0 ? 'compacted' : out;
  }

  async apply(space: string, shard: number, entries: readonly ShippedEntry[], epoch: Epoch, sourceHistory: EpochHistory): Promise<number> {
    const state = this.state(space, shard);
    let applied = false;
    for (const entry of entries) {
      if (entry.seq <= state.lastSeq) continue;
      if (entry.seq !== state.lastSeq + 1) break;
      this.append(state, copy(entry));
      applied = true;
    }
    if (applied) {
      state.epoch = copy(epoch);
      state.history = historyUpTo(copy(sourceHistory), state.lastSeq);
    }
    return state.lastSeq;
  }

  async truncate(space: string, shard: number, toSeq: number, epoch: Epoch, history: EpochHistory): Promise<number> {
    const state = this.state(space, shard);
    if (toSeq >= state.lastSeq) return 0;
    const cut = state.log.filter((entry) => entry.seq > toSeq);
    const touched = new Set<string>();
    const deletes = new Map<string, Record<string, number>>();
    for (const entry of cut) {
      for (const id of entryIds(entry.type, entry.payload)) touched.add(id);
      if (entry.type === 'DELETE') deletes.set((entry.payload as IdPayload).id, (entry.payload as IdPayload).version ?? {});
    }
    const kept: HandBack[] = [];
    for (const id of touched) {
      const record = state.records.get(id);
      const tombstone = state.tombstones.get(id);
      if (record !== undefined) kept.push({ space, shard, id, cutSeq: toSeq, copy: copy(record) });
      else if (tombstone !== undefined) kept.push({ space, shard, id, cutSeq: toSeq, copy: { record: copy(tombstone), embedding: null, links: [] }, deletedVersion: copy(tombstone.version) });
      else if (deletes.has(id)) kept.push({ space, shard, id, cutSeq: toSeq, copy: null, deletedVersion: deletes.get(id)! });
    }
    // One step: the hand-backs, the cut and the shortened history.
    for (const handBack of kept) {
      const same = this.waiting.findIndex((h) => compareHandBacks(h, handBack) === 0);
      if (same >= 0) this.waiting.splice(same, 1, joinCutCopies(this.waiting[same]!, handBack));
      else this.waiting.push(handBack);
    }
    this.waiting.sort(compareHandBacks);
    state.log = state.log.filter((entry) => entry.seq <= toSeq);
    state.lastSeq = toSeq;
    state.epoch = copy(epoch);
    state.history = copy(history);
    return kept.length;
  }

  private append(state: ShardState, given: ShippedEntry): void {
    assert(given.seq === state.lastSeq + 1, 'log entries land at the next sequence');
    // Fields in the order the engine's readLog builds them, which the batch checksum depends on.
    const entry: ShippedEntry = { seq: given.seq, type: given.type, timestampMs: given.timestampMs, payload: given.payload };
    state.log.push(entry);
    state.lastSeq = entry.seq;
    this.change(state, entry);
    this.committed(state, entry.seq);
  }

  private committed(state: ShardState, seq: number): void {
    this.commitListener?.(state.space, state.shard, seq);
  }

  /** What an entry does to the records, by type (shardSync.ts stages the same effects). */
  private change(state: ShardState, entry: ShippedEntry): void {
    switch (entry.type) {
      case 'STORE':
      case 'UPDATE':
      case 'CONSOLIDATION': {
        const payload = entry.payload as RecordPayload;
        const existing = state.records.get(payload.memory.id);
        // Without an embedding the local embedding and associations stay, as in the engine.
        const replace = payload.embedding !== null;
        state.tombstones.delete(payload.memory.id);
        state.records.set(payload.memory.id, {
          record: copy(payload.memory),
          embedding: replace ? payload.embedding : (existing?.embedding ?? null),
          links: replace ? copy(payload.links ?? []) : (existing?.links ?? []),
        });
        return;
      }
      case 'SUPPRESS': {
        const payload = entry.payload as IdPayload;
        const existing = state.records.get(payload.id);
        if (existing !== undefined) existing.record = { ...existing.record, suppressed: true, updatedAt: entry.timestampMs, version: payload.version ?? existing.record.version };
        return;
      }
      case 'DELETE': {
        const payload = entry.payload as IdPayload;
        state.records.delete(payload.id);
        if (payload.tombstone !== undefined) state.tombstones.set(payload.id, copy(payload.tombstone));
        return;
      }
      case 'TOUCH':
        for (const touch of (entry.payload as TouchPayload).touches) {
          const existing = state.records.get(touch.id);
          if (existing === undefined) continue;
          existing.record = { ...existing.record, lastAccess: touch.lastAccess, accessCount: touch.accessCount, activation: touch.activation, activatedAt: touch.activatedAt ?? touch.lastAccess };
        }
        return;
      default:
        return;
    }
  }

  // ---- snapshots ----------------------------------------------------------------------

  async snapshotChunk(space: string, shard: number, after: string | null, maxRecords: number, maxBytes: number): Promise<SnapshotChunk> {
    const state = this.state(space, shard);
    const ids = [...state.records.keys()].filter((id) => after === null || compareBytes(id, after) > 0).sort(compareBytes);
    const records: RecordCopy[] = [];
    let bytes = 0;
    for (const id of ids) {
      const record = state.records.get(id)!;
      const size = Buffer.byteLength(JSON.stringify(record)) + 1;
      // One record always, so a chunk makes progress.
      if (records.length > 0 && bytes + size > maxBytes) return { records, next: records.at(-1)!.record.id };
      records.push(copy(record));
      bytes += size;
      if (records.length >= maxRecords) return { records, next: id };
    }
    return { records, next: null };
  }

  async beginInstall(space: string, shard: number, epoch: Epoch): Promise<void> {
    const state = this.state(space, shard);
    state.installing = true;
    state.log = [];
    state.lastSeq = 0;
    state.epoch = copy(epoch);
    state.history = [];
    state.records.clear();
  }

  async installChunk(space: string, shard: number, records: readonly RecordCopy[]): Promise<void> {
    const state = this.state(space, shard);
    for (const record of records) state.records.set(record.record.id, copy(record));
  }

  async finishInstall(space: string, shard: number, seq: number, epoch: Epoch, history: EpochHistory): Promise<void> {
    const state = this.state(space, shard);
    // The log restarts with a marker that stands for the state received whole (as in shardSync.ts).
    state.log = [{ seq, type: 'CHECKPOINT', timestampMs: 0, payload: { snapshot: true, seq } }];
    state.lastSeq = seq;
    state.epoch = copy(epoch);
    state.history = copy(history);
    state.installing = false;
    this.committed(state, seq);
  }

  // ---- hand-backs ---------------------------------------------------------------------

  /**
   * Merges this node's hand-backs of the shard into its records as new log entries, by
   * version as the engine's mergeRecord does (merge.ts decides), and removes them.
   */
  async mergeOwnHandBacks(space: string, shard: number): Promise<number> {
    const state = this.state(space, shard);
    const mine = this.waiting.filter((h) => h.space === space && h.shard === shard);
    for (const handBack of mine) {
      const entry = this.mergeEntry(state, handBack);
      if (entry !== null) this.append(state, { seq: state.lastSeq + 1, timestampMs: 0, ...entry });
    }
    await this.handBacksMerged(mine);
    return mine.length;
  }

  /**
   * The entry that merges one hand-back into the records by the join of their version sets
   * (cluster/conflict), or null when the stored state already includes it. A state equal to
   * the stored one is logged again, as the engine does, so replicas that missed it follow.
   */
  private mergeEntry(state: ShardState, handBack: HandBack): Pick<ShippedEntry, 'type' | 'payload'> | null {
    const tombstone = state.tombstones.get(handBack.id);
    const existing = state.records.get(handBack.id) ?? (tombstone === undefined ? undefined : { record: tombstone, embedding: null, links: [] });
    const incoming = handBack.copy ?? (handBack.deletedVersion === undefined ? null : { record: legacyTombstone(handBack.id, handBack.deletedVersion), embedding: null, links: [] });
    if (incoming === null) return null;
    const merged = mergeCopies(handBack.id, existing === undefined ? null : { record: existing.record, embedding: existing.embedding }, { record: incoming.record, embedding: incoming.embedding }, -1);
    const result = merged ?? (existing === undefined ? null : { record: existing.record, embedding: existing.embedding });
    if (result === null) return null;
    if (result.record.deleted === true) return { type: 'DELETE', payload: { id: handBack.id, label: -1, version: copy(result.record.version), tombstone: copy(result.record) } };
    const links = merged === null || result.embedding === existing?.embedding ? (existing?.links ?? []) : incoming.links;
    return { type: existing === undefined ? 'STORE' : 'UPDATE', payload: { memory: copy(result.record), embedding: result.embedding, links: copy(links) } };
  }

  async handBacks(limit: number): Promise<HandBack[]> {
    return copy(this.waiting.slice(0, limit));
  }

  async handBacksMerged(done: readonly HandBack[]): Promise<void> {
    for (const handBack of done) {
      const index = this.waiting.findIndex((h) => compareHandBacks(h, handBack) === 0);
      if (index >= 0) this.waiting.splice(index, 1);
    }
  }

  handBackCount(): number {
    return this.waiting.length;
  }

  // ---- members ------------------------------------------------------------------------

  async loadMembers(): Promise<KnownMember[]> {
    return copy(this.members);
  }

  async saveMembers(members: readonly KnownMember[]): Promise<void> {
    this.members = copy([...members]).sort((a, b) => compareBytes(a.id, b.id));
  }
}
