// Resolvers of backup and restore (schema/backup.graphql). The rules live in
// src/backup/backupService.ts.

import type { RequestContext } from './index.js';

export const backupQueries = {
  backupShard: (_: unknown, args: { space: string; shard: number; cursor?: string | null }, context: RequestContext) =>
    context.backup.page(context.access, args.space, args.shard, args.cursor ?? null, context.request?.headers ?? {}),
};

export const backupMutations = {
  restoreRecords: (_: unknown, args: { space: string; lines: string }, context: RequestContext) => context.backup.restore(context.access, args.space, args.lines),
};
