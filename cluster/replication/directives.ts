// What the replication core asks its shell to do. The core never performs I/O: it returns
// these, and the shell runs each one (a request over the Transport, a call on the storage
// port, the answer to a waiting write) and hands the outcome back with the token, so the same
// core runs over NATS and RocksDB in production and over the simulator in tests.

import type { RecordCopy, ShippedEntry } from '../../src/engine/shardSync.js';
import type { SpaceDefinition } from '../../src/engine/types.js';
import type { ReplicationOperation } from '../transport/operations.js';
import type { Epoch } from './epoch.js';
import type { EpochHistory } from './epochHistory.js';

export type StorageCall =
  | { op: 'ensureSpace'; definition: SpaceDefinition }
  | { op: 'settle' }
  | { op: 'saveEpoch'; epoch: Epoch; history: EpochHistory }
  | { op: 'readLog'; fromSeq: number; maxEntries: number; maxBytes: number }
  | { op: 'apply'; entries: readonly ShippedEntry[]; epoch: Epoch; history: EpochHistory }
  | { op: 'truncate'; toSeq: number; epoch: Epoch; history: EpochHistory }
  | { op: 'snapshotChunk'; after: string | null; maxRecords: number; maxBytes: number }
  | { op: 'beginInstall'; epoch: Epoch }
  | { op: 'installChunk'; records: readonly RecordCopy[] }
  | { op: 'finishInstall'; seq: number; epoch: Epoch; history: EpochHistory }
  | { op: 'mergeOwnHandBacks' };

export type ShardEvent =
  | { kind: 'promoted'; epoch: Epoch; lastSeq: number; fenced: string[]; source: string | null; minority: boolean; elapsedMs: number }
  | { kind: 'steppedDown'; primary: string | null; reason: string }
  | { kind: 'claimRefused'; reason: string }
  | { kind: 'truncated'; toSeq: number; handBacks: number }
  | { kind: 'snapshotInstalled'; seq: number; source: string }
  | { kind: 'replicated'; lagsMs: number[] }
  | { kind: 'failed'; what: string; error: string };

export type Directive =
  | { type: 'request'; token: number; to: string; op: ReplicationOperation; message: unknown; timeoutMs: number }
  | { type: 'reply'; replyTo: number; message: unknown }
  | { type: 'storage'; token: number; space: string; shard: number; call: StorageCall }
  | { type: 'resolveWrite'; waiter: number }
  | { type: 'rejectWrite'; waiter: number; message: string; retryAfterMs: number; final?: boolean }
  | { type: 'event'; space: string; shard: number; event: ShardEvent };

/** The outcome of a request or storage call, handed back to the core with its token. */
export type Outcome = { ok: true; value: unknown } | { ok: false; error: string };
