// Counts GraphQL operations refused by a limit, by the limit's name (tokens, nesting, depth,
// aliases, cost, directives, responseBytes). Refusals are read off the result, after every
// plugin has run, because validation verdicts come from yoga's cache without running the
// rules again; each limit counts once per request however many errors carry it.

import type { Plugin } from 'graphql-yoga';
import type { Metrics } from './metrics.js';

export function useLimitMetrics(metrics: Metrics): Plugin {
  return {
    onResultProcess({ result }) {
      const limits = new Set<string>();
      for (const item of Array.isArray(result) ? result : [result]) {
        const errors = (item as { errors?: readonly { extensions?: Record<string, unknown> }[] } | null)?.errors;
        if (!Array.isArray(errors)) continue;
        for (const error of errors) {
          const limit = error.extensions?.['limit'];
          if (typeof limit === 'string') limits.add(limit);
        }
      }
      for (const limit of limits) metrics.operationLimitRejections.inc({ limit });
    },
  };
}
