// Messages between the event loop (indexHost.ts) and the index worker (indexWorker.ts).
// Requests with an `id` get exactly one reply with that id; upsert, remove and drop are
// fire-and-forget. Append-only: add request types, never change the meaning of one.

import type { VectorHit } from './vectorMath.js';

export type IndexRequest =
  | { type: 'create'; id: number; space: string; dimension: number }
  | { type: 'load'; id: number; space: string; dimension: number; path: string }
  | { type: 'upsert'; space: string; label: number; vector: Float32Array }
  | { type: 'remove'; space: string; label: number }
  | { type: 'addMany'; id: number; space: string; labels: number[]; vectors: Float32Array }
  | { type: 'search'; id: number; space: string; queries: Float32Array[]; k: number }
  | { type: 'save'; id: number; space: string; path: string }
  | { type: 'size'; id: number; space: string }
  | { type: 'drop'; space: string };

export type IndexReply =
  | { id: number; ok: true; size?: number; hits?: VectorHit[][] }
  | { id: number; ok: false; error: string; request: IndexRequest['type']; space: string };
