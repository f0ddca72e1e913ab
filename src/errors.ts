// Expected failures as named error classes. The GraphQL layer maps `code` to
// `extensions.code`; anything that is not an EngramError is masked as INTERNAL_SERVER_ERROR.

export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'RATE_LIMITED'
  | 'UNAVAILABLE'
  | 'INTERNAL_SERVER_ERROR';

export abstract class EngramError extends Error {
  abstract readonly code: ErrorCode;
  /** Extra fields exposed in GraphQL `extensions`. */
  readonly details: Record<string, unknown>;

  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.details = options.details ?? {};
  }
}

/** An argument or value the client sent is invalid; nothing was changed. */
export class BadInputError extends EngramError {
  override readonly name = 'BadInputError';
  readonly code = 'BAD_USER_INPUT' as const;
}

/** The named space or record does not exist. */
export class NotFoundError extends EngramError {
  override readonly name = 'NotFoundError';
  readonly code = 'NOT_FOUND' as const;
}

/** The node cannot serve the request right now (shutting down, overloaded, unreachable owner). */
export class UnavailableError extends EngramError {
  override readonly name: string = 'UnavailableError';
  readonly code = 'UNAVAILABLE' as const;
  constructor(message: string, readonly retryAfterMs: number, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, { ...options, details: { ...options.details, retryAfterMs } });
  }
}

/**
 * The shard's primary answered, and it cannot reach the copies the write concern needs: the
 * write was not made. Routers pass it to the client at once rather than retrying, since the
 * answer will not change until a partition heals.
 */
export class CopiesUnreachableError extends UnavailableError {
  override readonly name = 'CopiesUnreachableError';
  constructor(message: string, retryAfterMs: number) {
    super(message, retryAfterMs, { details: { copiesUnreachable: true } });
  }
}

/** The request carries no valid API key. */
export class UnauthenticatedError extends EngramError {
  override readonly name = 'UnauthenticatedError';
  readonly code = 'UNAUTHENTICATED' as const;
}

/** The key is valid but does not allow this operation on this space (or the space is not one it covers). */
export class ForbiddenError extends EngramError {
  override readonly name = 'ForbiddenError';
  readonly code = 'FORBIDDEN' as const;
}

/** The key has used its request rate; `retryAfterMs` says when a token is next free. */
export class RateLimitedError extends EngramError {
  override readonly name = 'RateLimitedError';
  readonly code = 'RATE_LIMITED' as const;
  constructor(message: string, readonly retryAfterMs: number, options: { details?: Record<string, unknown> } = {}) {
    super(message, { details: { ...options.details, retryAfterMs } });
  }
}

/** RocksDB rejected an operation; the write it belonged to was not applied. */
export class StorageError extends EngramError {
  override readonly name = 'StorageError';
  readonly code = 'INTERNAL_SERVER_ERROR' as const;
}

/** Stored bytes failed their checksum or could not be decoded. */
export class CorruptionError extends EngramError {
  override readonly name = 'CorruptionError';
  readonly code = 'INTERNAL_SERVER_ERROR' as const;
}

/** Invariant check: crashes tests and simulations loudly instead of limping on. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`Assertion failed: ${message}`);
}
