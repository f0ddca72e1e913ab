// What an engine runs on besides its store: clocks, the timer scheduler, the id generator
// and the vector index with its checkpoints. Production defaults are the wall clock,
// setInterval, random UUIDs and the worker-hosted HNSW index with checkpoint files; the
// simulator injects virtual time, a ManualScheduler, seeded ids and the exact index, so an
// engine's stored state and results depend only on its inputs.

import { randomUUID } from 'node:crypto';
import type { EngineSettings, LimitSettings } from '../config.js';
import type { KeyValueStore } from '../storage/keyValueStore.js';
import type { Logger } from './engine.js';
import { ExactIndexHost } from './exactIndex.js';
import { IndexCheckpointer } from './indexCheckpointer.js';
import { IndexFiles } from './indexFiles.js';
import { IndexHost } from './indexHost.js';
import { intervalScheduler, type Scheduler } from './scheduler.js';
import type { IndexKind, IndexProvider } from './spaceIndex.js';

export interface EngineOptions {
  /** The store the engine owns: `close()` closes it. RocksDB (`Store`) in production, `MemoryStore` in the simulator. */
  store: KeyValueStore;
  /** Directory for ANN index checkpoints. Required with the 'hnsw' index; unused with 'exact'. */
  indexDir?: string;
  nodeId: string;
  settings: EngineSettings;
  limits: LimitSettings;
  logger: Logger;
  /** Wall-clock ms for stored timestamps, log entries and decay. Default Date.now. */
  now?: () => number;
  /**
   * The vector index. Default 'hnsw': usearch HNSW in a worker thread, checkpointed to
   * `indexDir`. 'exact': brute-force search in process, with no worker and no files; it is
   * rebuilt from the store on open, which suits the simulator and tests, not large spaces.
   */
  index?: IndexKind;
  /** Timers for writing access statistics and index checkpoints. Default setInterval, unref'd. */
  scheduler?: Scheduler;
  /** Ids of memories stored without one. Default randomUUID. */
  newId?: () => string;
  /** Monotonic ms, used only for elapsed-time figures reported to callers. Default performance.now. */
  elapsedNow?: () => number;
}

export interface EngineRuntime {
  /** Wall-clock ms for everything stored: timestamps, log entries, decay. */
  now: () => number;
  /** Monotonic ms for elapsed-time figures only. */
  elapsedNow: () => number;
  /** Ids of memories stored without one. */
  newId: () => string;
  scheduler: Scheduler;
  indexes: IndexProvider;
  checkpointer: IndexCheckpointer;
}

export function engineRuntime(options: EngineOptions): EngineRuntime {
  const now = options.now ?? Date.now;
  const elapsedNow = options.elapsedNow ?? (() => performance.now());
  const clock = { now, elapsedNow };
  const kind = options.index ?? 'hnsw';
  let indexes: IndexProvider;
  let files: IndexFiles | null = null;
  if (kind === 'hnsw') {
    if (typeof options.indexDir !== 'string' || options.indexDir === '') throw new TypeError("EngineOptions.indexDir is required with index 'hnsw'");
    const host = new IndexHost(options.logger);
    files = new IndexFiles(options.indexDir, host, options.logger);
    indexes = host;
  } else if (kind === 'exact') {
    indexes = new ExactIndexHost(options.logger);
  } else {
    throw new RangeError(`EngineOptions.index must be 'hnsw' or 'exact', got ${String(kind)}`);
  }
  return {
    now,
    elapsedNow,
    newId: options.newId ?? randomUUID,
    scheduler: options.scheduler ?? intervalScheduler,
    indexes,
    checkpointer: new IndexCheckpointer(options.store, files, indexes, options.logger, clock),
  };
}
