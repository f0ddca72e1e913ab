// A memory record's secondary entries: tag, event-time, kind and lexical-term index keys,
// and its associations (stored in both directions). Writes add these to a MutationBatch
// next to the record itself, so a record and its index entries always change together.

import { keys } from '../storage/keys.js';
import { termFrequencies } from './lexical.js';
import type { MutationBatch } from './memorySpace.js';
import { encodeWeight } from './recordCodec.js';
import type { SpaceReader } from './spaceReader.js';
import { eventTime, type MemoryRecord } from './types.js';

/** Text that lexical cues match against. */
export function searchableText(record: MemoryRecord): string {
  const parts = [record.content ?? '', ...record.tags];
  if (record.episode) {
    const e = record.episode;
    parts.push(e.where ?? '', ...e.who, e.why ?? '', e.how ?? '');
  }
  return parts.join(' ');
}

const EMPTY = Buffer.alloc(0);

/** Writes the record and all its index entries. */
export function putIndexedRecord(batch: MutationBatch, record: MemoryRecord): void {
  const space = batch.space.id;
  batch.putRecord(record);
  for (const tag of record.tags) batch.put(keys.tag(space, tag, record.id), EMPTY);
  batch.put(keys.time(space, eventTime(record), record.id), EMPTY);
  batch.put(keys.kindEntry(space, record.kind, record.id), EMPTY);
  for (const [term, frequency] of termFrequencies(searchableText(record))) {
    const value = Buffer.alloc(2);
    value.writeUInt16BE(Math.min(frequency, 0xffff));
    batch.put(keys.term(space, term, record.id), value);
  }
}

/** Deletes the index entries of the record as stored (not the record itself). */
export function deleteIndexEntries(batch: MutationBatch, record: MemoryRecord): void {
  const space = batch.space.id;
  for (const tag of record.tags) batch.del(keys.tag(space, tag, record.id));
  batch.del(keys.time(space, eventTime(record), record.id));
  batch.del(keys.kindEntry(space, record.kind, record.id));
  for (const term of termFrequencies(searchableText(record)).keys()) batch.del(keys.term(space, term, record.id));
}

export function putAssociation(batch: MutationBatch, a: string, b: string, weight: number): void {
  const value = encodeWeight(weight);
  batch.put(keys.association(batch.space.id, a, b), value);
  batch.put(keys.association(batch.space.id, b, a), value);
}

/** Deletes every association of `id` in both directions; returns the former neighbours. */
export async function deleteAssociations(batch: MutationBatch, reader: SpaceReader, id: string): Promise<string[]> {
  const neighbours = (await reader.associationsUncached(id, Number.MAX_SAFE_INTEGER)).map((a) => a.to);
  for (const to of neighbours) {
    batch.del(keys.association(batch.space.id, id, to));
    batch.del(keys.association(batch.space.id, to, id));
  }
  return neighbours;
}
