// The bridge between the engine's stored record and the version set it stands for. A
// record with one version stores it flat (its embedding under its own key); a record with
// siblings keeps every maximal version in `versions`, and its flat fields are the view.
// Converting a record to its set and back gives the same record, so a merge that changes
// nothing writes nothing.

import stringify from 'safe-stable-stringify';
import type { MemoryRecord, VectorClock } from '../../src/engine/types.js';
import { viewOf } from './recordView.js';
import { canonicalClock, join, sameState, type AccessStats, type VersionBody, type VersionSet } from './versionSet.js';

/** The write id of a record stored before writes had ids: the same on every copy. */
export function legacyWriteId(version: VectorClock): string {
  return `clock:${stringify(canonicalClock(version))}`;
}

function statsOf(record: MemoryRecord): AccessStats {
  return { accessCount: record.accessCount, lastAccess: record.lastAccess, activation: record.activation, activatedAt: record.activatedAt };
}

/** The one version a flat record stands for. `embedding` is its base64 float32, or null. */
export function versionOfRecord(record: MemoryRecord, embedding: string | null): VersionBody {
  const clock = canonicalClock(record.version);
  const firstNode = Object.keys(clock)[0] ?? '';
  return {
    writeId: record.writeId ?? legacyWriteId(clock),
    node: record.writer ?? firstNode,
    clock,
    deleted: record.deleted === true,
    kind: record.kind,
    content: record.deleted === true ? null : record.content,
    confidence: record.confidence,
    tags: record.deleted === true ? [] : record.tags,
    metadata: record.deleted === true ? null : (record.metadata ?? null),
    suppressed: record.suppressed,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    decayRate: record.decayRate,
    embedding: record.deleted === true ? null : embedding,
    ...(record.episode === undefined || record.deleted === true ? {} : { episode: record.episode }),
    ...(record.pattern === undefined || record.deleted === true ? {} : { pattern: record.pattern }),
  };
}

export function stateOfRecord(record: MemoryRecord, embedding: string | null): VersionSet {
  const versions = record.versions !== undefined && record.versions.length > 1 ? record.versions : [versionOfRecord(record, embedding)];
  return { versions, retired: record.retired ?? {}, stats: statsOf(record) };
}

export interface TombstoneFields {
  kind: MemoryRecord['kind'];
  version: VectorClock;
  writeId: string;
  writer: string;
  createdAt: number;
  updatedAt: number;
  decayRate: number;
  retired?: Record<string, number>;
}

/** A tombstone record: a deleted version with no content, stored under its own key. */
export function tombstoneRecord(id: string, fields: TombstoneFields): MemoryRecord {
  const { retired, ...rest } = fields;
  return {
    id,
    content: null,
    confidence: 0,
    activation: 0,
    activatedAt: 0,
    lastAccess: null,
    accessCount: 0,
    tags: [],
    metadata: null,
    suppressed: false,
    label: -1,
    hasEmbedding: false,
    ...rest,
    version: canonicalClock(fields.version),
    ...(retired !== undefined && Object.keys(retired).length > 0 ? { retired } : {}),
    deleted: true,
  };
}

/** The state of a memory deleted before tombstones kept version sets: one tombstone at the delete's clock. */
export function legacyTombstone(id: string, version: VectorClock): MemoryRecord {
  const clock = canonicalClock(version);
  return tombstoneRecord(id, { kind: 'MEMORY', version: clock, writeId: `delete:${stringify(clock)}`, writer: Object.keys(clock)[0] ?? '', createdAt: 0, updatedAt: 0, decayRate: 0 });
}

export interface StoredForm {
  record: MemoryRecord;
  /** The view's embedding as base64 float32: what the record's embedding key and the index hold. */
  embedding: string | null;
}

/** The record (flat view plus versions) that stores a state; `label` is the node's own. */
export function recordOfState(id: string, state: VersionSet, label: number): StoredForm {
  const view = viewOf(state);
  const w = view.winner;
  const record: MemoryRecord = {
    id,
    kind: w.kind,
    content: w.content,
    confidence: w.confidence,
    activation: state.stats.activation,
    activatedAt: state.stats.activatedAt,
    decayRate: w.decayRate,
    createdAt: w.createdAt,
    updatedAt: w.updatedAt,
    lastAccess: state.stats.lastAccess,
    accessCount: state.stats.accessCount,
    tags: w.tags,
    metadata: w.metadata,
    suppressed: w.suppressed,
    label,
    hasEmbedding: w.embedding !== null,
    version: view.context,
    ...(w.episode === undefined ? {} : { episode: w.episode }),
    ...(w.pattern === undefined ? {} : { pattern: w.pattern }),
    writeId: w.writeId,
    writer: w.node,
    ...(state.versions.length > 1 ? { versions: state.versions } : {}),
    ...(Object.keys(state.retired).length > 0 ? { retired: state.retired } : {}),
    ...(view.deleted ? { deleted: true } : {}),
  };
  return { record, embedding: w.embedding };
}

/** A copy of a memory as merges see it: its record (a tombstone when deleted) and embedding. */
export interface CopyForm {
  record: MemoryRecord;
  embedding: string | null;
}

/**
 * The join of a stored copy (or nothing) and an incoming one, as the record that stores it,
 * or null when the stored copy already is that state.
 */
export function mergeCopies(id: string, stored: CopyForm | null, incoming: CopyForm, label: number): StoredForm | null {
  const incomingState = stateOfRecord(incoming.record, incoming.embedding);
  if (stored === null) return recordOfState(id, join(incomingState, incomingState), label);
  const current = stateOfRecord(stored.record, stored.embedding);
  const merged = join(current, incomingState);
  return sameState(merged, current) ? null : recordOfState(id, merged, label);
}

/** The version a record shows, with its own clock (the winner of its view). */
export function shownVersion(record: MemoryRecord): VersionBody {
  return record.versions !== undefined && record.versions.length > 1 ? viewOf(stateOfRecord(record, null)).winner : versionOfRecord(record, null);
}

/** A record's unresolved siblings, in display order; none for a record with one version. */
export function siblingsOf(record: MemoryRecord): VersionBody[] {
  return record.versions !== undefined && record.versions.length > 1 ? viewOf(stateOfRecord(record, null)).conflicts : [];
}

/** What a cut-off write keeps of a memory: its copy (null when only a delete's clock is known). */
export interface CutCopy {
  id: string;
  copy: (CopyForm & { links: unknown[] }) | null;
  deletedVersion?: VectorClock;
}

/**
 * Two cuts of one memory at one log position, as one: the join of both states. The second
 * cut may come after a source's entries replaced the first state, so neither may replace the
 * other.
 */
export function joinCutCopies<T extends CutCopy>(earlier: T, later: T): T {
  const formOf = (cut: T): CopyForm | null => cut.copy ?? (cut.deletedVersion === undefined ? null : { record: legacyTombstone(cut.id, cut.deletedVersion), embedding: null });
  const a = formOf(earlier);
  const b = formOf(later);
  if (a === null || b === null) return a === null ? later : earlier;
  const joined = mergeCopies(later.id, a, b, a.record.label) ?? { record: a.record, embedding: a.embedding };
  const links = later.copy?.links ?? earlier.copy?.links ?? [];
  const { deletedVersion: _, ...rest } = later;
  return { ...rest, copy: { record: joined.record, embedding: joined.embedding, links }, ...(joined.record.deleted === true ? { deletedVersion: joined.record.version } : {}) } as T;
}
