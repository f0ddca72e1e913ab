// How a primary classifies each record whose digest differs between its copy and a
// replica's, from the two digest entries alone (docs/antientropy.md):
//
// - merge: the replica holds a record the primary lacks, or a version the primary's does
//   not dominate (ahead or concurrent). The primary takes the replica's copy through the
//   conflict join, which is a join-semilattice, so this is safe whatever the cause.
// - replace: the primary's copy is damaged (CORRUPT) and the replica's is sound. A damaged
//   copy is never joined with: the replica's copy replaces it.
// - behind: the replica lacks the record, holds a version the primary's dominates, holds an
//   equal clock with other bytes, or holds it damaged. Replication lag looks the same for a
//   moment, so this is only a suspicion until a later round sees the same pair of digests.
// - unrepairable: both copies are damaged, or the primary's is and the replica has none;
//   another replica may still supply it.
//
// The replica's digests arrive truncated to their first 64 bits (messages.ts wireDigest),
// the primary's are whole; sameDigest compares them. The round reads a page's 16 'f's back
// as CORRUPT_DIGEST (digestFromWire) before classifying.

import { compare } from '../../src/engine/vectorClock.js';
import { CORRUPT_DIGEST, type LeafEntry } from './hashTree.js';
import { digestFromWire, sameDigest } from './messages.js';

/** A digest entry as the replica sent it: its digest whole or truncated (messages.ts wireDigest), CORRUPT_DIGEST read back whole. */
export type PeerEntry = LeafEntry;

export type Verdict = 'same' | 'merge' | 'replace' | 'behind' | 'unrepairable';

/** A record the replica holds behind, missing or damaged, with the digest pair that identifies the difference. */
export interface Suspect {
  id: string;
  /** The primary's digest, or null when the primary lacks the record. */
  primaryDigest: string | null;
  /** The replica's digest as it arrived (maybe truncated), or null when the replica lacks the record. */
  replicaDigest: string | null;
}

export interface LeafDifferences {
  /** Ids whose entries differ. */
  differing: number;
  merge: string[];
  replace: string[];
  behind: Suspect[];
  unrepairable: string[];
}

/** The verdict on one id from the primary's entry and the replica's (undefined when absent). */
export function classifyRecord(own: LeafEntry | undefined, peer: PeerEntry | undefined): Verdict {
  if (own === undefined && peer === undefined) return 'same';
  if (own !== undefined && peer !== undefined && sameDigest(own.digest, peer.digest)) return 'same';
  const peerSound = peer !== undefined && digestFromWire(peer.digest) !== CORRUPT_DIGEST;
  if (own?.digest === CORRUPT_DIGEST) return peerSound ? 'replace' : 'unrepairable';
  if (!peerSound) return 'behind';
  if (own === undefined) return 'merge';
  const order = compare(peer.clock, own.clock);
  return order === 'AFTER' || order === 'CONCURRENT' ? 'merge' : 'behind';
}

function byId(a: LeafEntry, b: LeafEntry): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Compares one leaf's entries on both copies; entries may come in any order. */
export function classifyLeaf(own: readonly LeafEntry[], peer: readonly PeerEntry[]): LeafDifferences {
  const out: LeafDifferences = { differing: 0, merge: [], replace: [], behind: [], unrepairable: [] };
  const mine = [...own].sort(byId);
  const theirs = [...peer].sort(byId);
  let i = 0;
  let j = 0;
  while (i < mine.length || j < theirs.length) {
    const a = mine[i];
    const b = theirs[j];
    const order = a === undefined ? 1 : b === undefined ? -1 : byId(a, b);
    const ownEntry = order <= 0 ? a : undefined;
    const peerEntry = order >= 0 ? b : undefined;
    if (order <= 0) i++;
    if (order >= 0) j++;
    const verdict = classifyRecord(ownEntry, peerEntry);
    if (verdict === 'same') continue;
    out.differing++;
    const id = (ownEntry ?? peerEntry)!.id;
    if (verdict === 'behind') out.behind.push({ id, primaryDigest: ownEntry?.digest ?? null, replicaDigest: peerEntry?.digest ?? null });
    else out[verdict].push(id);
  }
  return out;
}
