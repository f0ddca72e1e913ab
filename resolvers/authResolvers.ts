// Resolvers of API-key administration (schema/auth.graphql). The rules live in
// src/auth/keyAdmin.ts; this maps arguments in and records out.

import type { ApiKeyRole, ApiKeyRecord } from '../src/auth/keyRecord.js';
import { publicView } from '../src/auth/keyRecord.js';
import type { RequestContext } from './index.js';

function keyView(record: ApiKeyRecord) {
  return { ...publicView(record), revoked: record.revokedAt !== null };
}

export const authQueries = {
  apiKeys: (_: unknown, __: unknown, context: RequestContext) => context.keys.list(context.access).map(keyView),
};

export const authMutations = {
  createApiKey: async (_: unknown, args: { spaces: string[]; role: ApiKeyRole; expiresAt?: number | null; ratePerSecond?: number | null }, context: RequestContext) => {
    const { record, token } = await context.keys.create(context.access, args);
    return { id: record.id, secret: token, spaces: record.spaces, role: record.role, expiresAt: record.expiresAt, ratePerSecond: record.ratePerSecond };
  },
  revokeApiKey: (_: unknown, args: { id: string }, context: RequestContext) => context.keys.revoke(context.access, args.id),
};
