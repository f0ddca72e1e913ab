// Runs one storage directive of a shard core against the storage port: the one place that
// maps the core's storage calls onto the port's methods.

import type { StorageCall } from './directives.js';
import type { ReplicationStorage } from './storagePort.js';

/** Performs `call` for (space, shard); the result goes back to the core as the outcome. */
export function runStorageCall(s: ReplicationStorage, space: string, shard: number, call: StorageCall): Promise<unknown> {
  switch (call.op) {
    case 'ensureSpace':
      return s.ensureSpace(call.definition);
    case 'settle':
      return s.settle(space, shard);
    case 'saveEpoch':
      return s.saveEpoch(space, shard, call.epoch, call.history);
    case 'readLog':
      return s.readLog(space, shard, call.fromSeq, call.maxEntries, call.maxBytes);
    case 'apply':
      return s.apply(space, shard, call.entries, call.epoch, call.history);
    case 'truncate':
      return s.truncate(space, shard, call.toSeq, call.epoch, call.history);
    case 'snapshotChunk':
      return s.snapshotChunk(space, shard, call.after, call.maxRecords, call.maxBytes);
    case 'beginInstall':
      return s.beginInstall(space, shard, call.epoch);
    case 'installChunk':
      return s.installChunk(space, shard, call.records);
    case 'finishInstall':
      return s.finishInstall(space, shard, call.seq, call.epoch, call.history);
    case 'mergeOwnHandBacks':
      return s.mergeOwnHandBacks(space, shard);
  }
}
