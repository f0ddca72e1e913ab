// Index checkpoint files of the HNSW index: per space, the saved usearch index and a JSON
// file with the per-shard log position it reflects. The index is saved by the worker; the
// position file is written, fsynced and renamed into place so a crash leaves either the
// old or the new one. The exact index has no files: it is rebuilt from the store on start.

import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from './engine.js';
import type { IndexHost } from './indexHost.js';
import type { MemorySpace } from './memorySpace.js';
import type { SpaceDefinition } from './types.js';

const CHECKPOINT_FORMAT = 1;

/** What a checkpoint file records: the log position the saved index reflects. */
export interface CheckpointFile {
  format: number;
  space: string;
  dimension: number;
  shardSeqs: number[];
  savedAtMs: number;
}

/** Write, fsync, rename: off the event loop, since fsync can take tens of milliseconds. */
async function writeFileDurably(path: string, data: string | Buffer): Promise<void> {
  const temporary = `${path}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
}

export class IndexFiles {
  constructor(
    private readonly directory: string,
    private readonly host: IndexHost,
    private readonly logger: Logger,
  ) {
    mkdirSync(directory, { recursive: true });
  }

  private indexPath(space: string): string {
    return join(this.directory, `${space}.usearch`);
  }

  private checkpointPath(space: string): string {
    return join(this.directory, `${space}.checkpoint.json`);
  }

  /**
   * Saves the space's index with every update posted before this call, then the position
   * `shardSeqs` it reflects. The save is posted to the worker before the first await, so a
   * caller that reads the sequences in the same synchronous step gets exactly them.
   */
  async save(space: MemorySpace, shardSeqs: number[], savedAtMs: number): Promise<void> {
    const checkpoint: CheckpointFile = { format: CHECKPOINT_FORMAT, space: space.id, dimension: space.definition.dimension, shardSeqs, savedAtMs };
    await this.host.space(space.id, space.definition.dimension).save(this.indexPath(space.id));
    await writeFileDurably(this.checkpointPath(space.id), JSON.stringify(checkpoint));
  }

  /** Forgets the saved checkpoint, so the next start rebuilds unless a newer one is saved. */
  discard(space: string): void {
    rmSync(this.checkpointPath(space), { force: true });
  }

  /** Loads the saved index into the worker; null when there is no usable checkpoint. */
  async load(definition: SpaceDefinition): Promise<CheckpointFile | null> {
    const checkpointPath = this.checkpointPath(definition.id);
    if (!existsSync(checkpointPath) || !existsSync(this.indexPath(definition.id))) return null;
    try {
      const checkpoint = JSON.parse(readFileSync(checkpointPath, 'utf8')) as CheckpointFile;
      if (checkpoint.format !== CHECKPOINT_FORMAT || checkpoint.dimension !== definition.dimension || checkpoint.shardSeqs.length !== definition.shards) return null;
      await this.host.space(definition.id, definition.dimension).load(this.indexPath(definition.id));
      return checkpoint;
    } catch (error) {
      this.logger.warn({ err: error, space: definition.id }, 'index checkpoint unusable; rebuilding from stored embeddings');
      return null;
    }
  }
}
