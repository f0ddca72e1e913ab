// Resolvers of node operations (schema/operations.graphql). The rules live in
// src/server/nodeAdmin.ts.

import type { RequestContext } from './index.js';

export const nodeMutations = {
  drain: (_: unknown, args: { node?: string | null }, context: RequestContext) => context.nodeAdmin.drain(context.access, args.node ?? null, context.request?.headers ?? {}),
};
