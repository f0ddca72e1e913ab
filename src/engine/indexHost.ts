// The event-loop side of the index worker. Each space gets a SpaceIndex handle: upsert and
// remove are posted without waiting (the worker applies them in order before anything
// posted later), while search, save, load and bulk adds return promises. A crashed worker
// fails every pending and later call, which the node reports as unavailable.

import { Worker } from 'node:worker_threads';
import { UnavailableError } from '../errors.js';
import type { Logger } from './engine.js';
import type { IndexReply, IndexRequest } from './indexProtocol.js';
import type { IndexProvider, SpaceIndex } from './spaceIndex.js';
import type { VectorHit } from './vectorMath.js';

export type { SpaceIndex } from './spaceIndex.js';

type WithoutId<T> = T extends { id: number } ? Omit<T, 'id'> : never;
type CallRequest = WithoutId<IndexRequest>;

/** A typed array that owns exactly its bytes: posting a view would copy its whole buffer. */
function compact(vector: Float32Array): Float32Array {
  return vector.byteOffset === 0 && vector.byteLength === vector.buffer.byteLength ? vector : vector.slice();
}

export class IndexHost implements IndexProvider {
  readonly kind = 'hnsw' as const;
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (reply: IndexReply) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private failure: Error | undefined;
  private closing = false;

  constructor(private readonly logger: Logger) {
    // From TypeScript sources the worker registers the tsx loader itself (see indexWorkerSource.mjs).
    const source = import.meta.url.endsWith('.ts');
    this.worker = new Worker(new URL(source ? './indexWorkerSource.mjs' : './indexWorker.js', import.meta.url));
    this.worker.unref();
    this.worker.on('message', (reply: IndexReply) => this.onReply(reply));
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => {
      if (!this.closing) this.fail(new Error(`index worker exited with code ${code}`));
    });
  }

  private onReply(reply: IndexReply): void {
    const waiter = this.pending.get(reply.id);
    if (waiter === undefined) {
      if (!reply.ok) this.logger.error({ request: reply.request, space: reply.space, error: reply.error }, 'index worker rejected an update');
      return;
    }
    this.pending.delete(reply.id);
    if (reply.ok) waiter.resolve(reply);
    else waiter.reject(new Error(`index ${reply.request} failed for space ${reply.space}: ${reply.error}`));
  }

  private fail(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.logger.error({ err: error }, 'index worker failed');
    for (const waiter of this.pending.values()) waiter.reject(new UnavailableError('The vector index is unavailable', 5000, { cause: error }));
    this.pending.clear();
  }

  private check(): void {
    if (this.failure !== undefined) throw new UnavailableError('The vector index is unavailable', 5000, { cause: this.failure });
  }

  post(request: Extract<IndexRequest, { type: 'upsert' | 'remove' | 'drop' }>): void {
    this.check();
    this.worker.postMessage(request);
  }

  call(request: CallRequest): Promise<IndexReply & { ok: true }> {
    this.check();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (reply: IndexReply) => void, reject });
      this.worker.postMessage({ ...request, id });
    });
  }

  space(space: string, dimension: number): WorkerSpaceIndex {
    return new WorkerSpaceIndex(this, space, dimension);
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
  }
}

/** One space's index in the worker; it can also be saved to and loaded from a file. */
export class WorkerSpaceIndex implements SpaceIndex {
  constructor(
    private readonly host: IndexHost,
    readonly space: string,
    readonly dimension: number,
  ) {}

  async create(): Promise<void> {
    await this.host.call({ type: 'create', space: this.space, dimension: this.dimension });
  }

  /** Loads a saved index; resolves with its size. Rejects when the file is missing or corrupt. */
  async load(path: string): Promise<number> {
    return (await this.host.call({ type: 'load', space: this.space, dimension: this.dimension, path })).size ?? 0;
  }

  upsert(label: number, vector: Float32Array): void {
    this.host.post({ type: 'upsert', space: this.space, label, vector: compact(vector) });
  }

  remove(label: number): void {
    this.host.post({ type: 'remove', space: this.space, label });
  }

  async addMany(labels: number[], vectors: Float32Array): Promise<void> {
    await this.host.call({ type: 'addMany', space: this.space, labels, vectors: compact(vectors) });
  }

  async search(query: Float32Array, k: number): Promise<VectorHit[]> {
    return (await this.searchMany([query], k))[0]!;
  }

  async searchMany(queries: readonly Float32Array[], k: number): Promise<VectorHit[][]> {
    return (await this.host.call({ type: 'search', space: this.space, queries: queries.map(compact), k })).hits ?? [];
  }

  /** Saves the index with every change posted before this call. */
  async save(path: string): Promise<void> {
    await this.host.call({ type: 'save', space: this.space, path });
  }

  async size(): Promise<number> {
    return (await this.host.call({ type: 'size', space: this.space })).size ?? 0;
  }
}
