// The ANN indexes of a node live in this worker thread, so native index work (insert,
// search, save, load, rebuild) runs on its own core instead of the event loop that serves
// requests. Messages are handled strictly in arrival order, so a search always sees every
// upsert and remove posted before it, and a save captures exactly the changes posted
// before it. See indexHost.ts for the protocol.

import { parentPort } from 'node:worker_threads';
import type { IndexReply, IndexRequest } from './indexProtocol.js';
import { VectorIndex } from './vectorIndex.js';

const port = parentPort;
if (port === null) throw new Error('indexWorker must run in a worker thread');

const indexes = new Map<string, VectorIndex>();

function indexOf(space: string): VectorIndex {
  const index = indexes.get(space);
  if (index === undefined) throw new Error(`no index is open for space ${space}`);
  return index;
}

function handle(request: IndexRequest): IndexReply | undefined {
  switch (request.type) {
    case 'create':
      indexes.set(request.space, new VectorIndex({ dimension: request.dimension }));
      return { id: request.id, ok: true, size: 0 };
    case 'load': {
      const index = VectorIndex.load(request.path, { dimension: request.dimension });
      indexes.set(request.space, index);
      return { id: request.id, ok: true, size: index.size };
    }
    case 'upsert':
      indexOf(request.space).upsert(request.label, request.vector);
      return undefined;
    case 'remove':
      indexOf(request.space).remove(request.label);
      return undefined;
    case 'addMany': {
      const index = indexOf(request.space);
      index.addMany(request.labels, request.vectors);
      return { id: request.id, ok: true, size: index.size };
    }
    case 'search':
      return { id: request.id, ok: true, hits: request.queries.map((query) => indexOf(request.space).search(query, request.k)) };
    case 'save': {
      const index = indexOf(request.space);
      index.save(request.path);
      return { id: request.id, ok: true, size: index.size };
    }
    case 'size':
      return { id: request.id, ok: true, size: indexOf(request.space).size };
    case 'drop':
      indexes.delete(request.space);
      return undefined;
  }
}

port.on('message', (request: IndexRequest) => {
  try {
    const reply = handle(request);
    if (reply !== undefined) port.postMessage(reply);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // Fire-and-forget requests have no id: report them as faults so the host can log them.
    port.postMessage({ id: 'id' in request ? request.id : -1, ok: false, error: message, request: request.type, space: request.space } satisfies IndexReply);
  }
});
