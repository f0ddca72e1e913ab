/*
 * Request body reader: buffers one request body with three bounds, and says which one
 * ended it.
 *
 * Mechanism. A declared Content-Length over the maximum is refused before any byte is
 * read. Each arriving chunk is checked against the per-request maximum and charged to
 * the node-wide BodyBudget; an idle timer, re-armed by every chunk, ends a body that has
 * gone quiet. A socket that closes before the body ends is an abandoned upload: the
 * client is gone, so it is reported as 'aborted' for the caller to count, not thrown.
 * Whatever ends a body early gives its bytes back to the budget at once; a complete body
 * keeps them until the caller releases `heldBytes` after its response.
 */

import type { IncomingMessage } from 'node:http';
import type { BodyBudget } from './bodyBudget.js';

export type BodyOutcome =
  | { kind: 'complete'; body: Buffer; heldBytes: number }
  | { kind: 'too-large' }
  | { kind: 'over-budget' }
  | { kind: 'idle' }
  | { kind: 'aborted' };

export interface BodyBounds {
  maxBytes: number;
  idleTimeoutMs: number;
  budget: BodyBudget;
}

export function readRequestBody(request: IncomingMessage, bounds: BodyBounds): Promise<BodyOutcome> {
  const declared = request.headers['content-length'];
  if (declared !== undefined && Number(declared) > bounds.maxBytes) return Promise.resolve({ kind: 'too-large' });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (outcome: BodyOutcome): void => {
      clearTimeout(timer);
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onAborted);
      request.off('close', onClose);
      if (outcome.kind !== 'complete') {
        bounds.budget.release(size);
        chunks.length = 0;
      }
      resolve(outcome);
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => finish({ kind: 'idle' }), bounds.idleTimeoutMs);
    };
    const onData = (chunk: Buffer): void => {
      if (size + chunk.length > bounds.maxBytes) return finish({ kind: 'too-large' });
      if (!bounds.budget.tryTake(chunk.length)) return finish({ kind: 'over-budget' });
      size += chunk.length;
      chunks.push(chunk);
      arm();
    };
    const onEnd = (): void => finish({ kind: 'complete', body: Buffer.concat(chunks, size), heldBytes: size });
    const onAborted = (): void => finish({ kind: 'aborted' });
    const onClose = (): void => {
      if (!request.complete) finish({ kind: 'aborted' });
    };
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onAborted);
    request.on('close', onClose);
    arm();
  });
}
