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

export function useRequestMetrics(metrics: Metrics): Plugin {
  return {
    onExecute({ args }) {
      const started = performance.now();
      const operation = rootFieldName(args.document, args.operationName);
      return {
        onExecuteDone({ result }) {
          const failed = 'errors' in result && Array.isArray(result.errors) && result.errors.length > 0;
          metrics.requests.inc({ operation, outcome: failed ? 'error' : 'ok' });
          metrics.requestDuration.observe({ operation }, (performance.now() - started) / 1000);
        },
      };
    },
  };
}
