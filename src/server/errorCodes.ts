// Maps failures to GraphQL errors with `extensions.code`. Expected failures (EngramError)
// keep their message and code; GraphQL's own errors (syntax, validation, variable
// coercion) are client mistakes and get BAD_USER_INPUT; anything else is masked as
// INTERNAL_SERVER_ERROR and logged, so internals never leak to clients.

import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { EngramError } from '../errors.js';
import type { Logger } from '../engine/engine.js';

// Messages may quote client input; a lone surrogate in one would make the response text
// something strict JSON parsers refuse, so every message is made well-formed.
function withCode(error: GraphQLError, code: string, extra: Record<string, unknown> = {}, message = error.message): GraphQLError {
  return new GraphQLError(message.toWellFormed(), {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: { ...error.extensions, ...extra, code },
  });
}

export function createErrorMasker(logger: Logger) {
  return (error: unknown, message: string): Error => {
    if (error instanceof GraphQLError) {
      const original = error.originalError;
      if (original instanceof EngramError) {
        if (original.code === 'INTERNAL_SERVER_ERROR') {
          logger.error({ err: original, path: error.path }, 'operation failed');
          return withCode(error, original.code, {}, message);
        }
        return withCode(error, original.code, original.details, original.message);
      }
      // The located error carries the path and locations; the original carries the message and code.
      if (original instanceof GraphQLError) return withCode(error, String(original.extensions['code'] ?? 'BAD_USER_INPUT'), original.extensions, original.message);
      if (original == null) return withCode(error, String(error.extensions['code'] ?? 'BAD_USER_INPUT'));
      logger.error({ err: original, path: error.path }, 'unexpected error in operation');
      return withCode(error, 'INTERNAL_SERVER_ERROR', {}, message);
    }
    logger.error({ err: error }, 'unexpected error outside an operation');
    return new GraphQLError(message, { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  };
}

/** The contract's codes; yoga's own request-level codes are all client mistakes. */
const CONTRACT_CODES = new Set(['BAD_USER_INPUT', 'NOT_FOUND', 'UNAUTHENTICATED', 'FORBIDDEN', 'RATE_LIMITED', 'UNAVAILABLE', 'INTERNAL_SERVER_ERROR']);

/**
 * Errors that never pass through masking (parse, validation, malformed requests) get a
 * contract code. Yoga's own code (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED,
 * BAD_REQUEST) is kept as `extensions.reason`, and internal details are dropped.
 */
export function useErrorCodes(): Plugin {
  return {
    onResultProcess({ result }) {
      const results = Array.isArray(result) ? result : [result];
      for (const item of results) {
        const errors = (item as { errors?: GraphQLError[] } | null)?.errors;
        if (!Array.isArray(errors)) continue;
        for (const error of errors) {
          if (!(error instanceof GraphQLError)) continue;
          if (!error.message.isWellFormed()) error.message = error.message.toWellFormed();
          const extensions = error.extensions as Record<string, unknown>;
          const code = extensions['code'];
          if (typeof code === 'string' && CONTRACT_CODES.has(code)) continue;
          if (typeof code === 'string') extensions['reason'] = code;
          extensions['code'] = 'BAD_USER_INPUT';
          delete extensions['originalError'];
          if (code === 'BAD_REQUEST' || code === 'GRAPHQL_PARSE_FAILED') {
            // A malformed request is a 4xx for every media type, not only graphql-response+json.
            const http = (extensions['http'] ?? {}) as { status?: number };
            extensions['http'] = { ...http, status: http.status ?? 400, spec: false };
          }
        }
      }
    },
  };
}
