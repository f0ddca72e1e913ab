// Counts and times GraphQL operations by root field (remember, recall, ...). Labelling by
// root field rather than by client operation name keeps the label set bounded by the schema.

import { Kind, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Metrics } from './metrics.js';

export function rootFieldName(document: DocumentNode, operationName: string | null | undefined): string {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operations.find((o) => o.name?.value === operationName) ?? operations[0];
  const first = operation?.selectionSet.selections.find((s) => s.kind === Kind.FIELD);
  if (first === undefined || first.kind !== Kind.FIELD) return 'unknown';
  return first.name.value.startsWith('__') ? 'introspection' : first.name.value;
}

/** Codes of errors the caller made (input, keys, rates): `rejected`, not a failure of the service. */
const CLIENT_CODES: ReadonlySet<string> = new Set(['BAD_USER_INPUT', 'NOT_FOUND', 'FORBIDDEN', 'UNAUTHENTICATED', 'RATE_LIMITED', 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'BAD_REQUEST']);

/** `ok`; `rejected` when every error is the caller's; `error` when any is the service's (the SLO counts these). */
export function outcomeOf(errors: readonly ResultError[] | undefined): 'ok' | 'rejected' | 'error' {
  if (errors === undefined || errors.length === 0) return 'ok';
  // The code reaches `extensions` only when the result is formatted; an EngramError carries it already.
  return errors.every((error) => CLIENT_CODES.has(String(error.extensions?.['code'] ?? error.originalError?.code))) ? 'rejected' : 'error';
}

interface ResultError {
  extensions?: Record<string, unknown>;
  originalError?: { code?: unknown } | null;
}

export function useRequestMetrics(metrics: Metrics): Plugin {
  return {
    onExecute({ args }) {
      const started = performance.now();
      const operation = rootFieldName(args.document, args.operationName);
      return {
        onExecuteDone({ result }) {
          const errors = 'errors' in result && Array.isArray(result.errors) ? (result.errors as ResultError[]) : undefined;
          metrics.requests.inc({ operation, outcome: outcomeOf(errors) });
          metrics.requestDuration.observe({ operation }, (performance.now() - started) / 1000);
        },
      };
    },
  };
}
