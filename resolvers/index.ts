// GraphQL resolvers: arguments in, service calls, GraphQL shapes out. No business logic
// lives here; the engine validates and the error plugin maps failures to codes.

import type { ConfidenceInterval } from '../src/engine/confidence.js';
import type { PatternOutcome } from '../src/engine/engine.js';
import type { MemorySpace } from '../src/engine/memorySpace.js';
import type { CueInput, RecalledMemory, RecallOptionsInput } from '../src/engine/recall.js';
import { encodeEmbedding } from '../src/engine/recordCodec.js';
import type { MemoryRecord } from '../src/engine/types.js';
import { BadInputError } from '../src/errors.js';
import type { NodeService, RequestOptions, WriteConsistency } from '../src/service/nodeService.js';
import type { UnitStatus } from '../cluster/replication/replicationManager.js';
import { DateTime, JSONScalar } from './scalars.js';
import { shownVersion, siblingsOf } from '../cluster/conflict/memoryState.js';
import type { VersionBody } from '../cluster/conflict/versionSet.js';
import type { Access, Need } from '../src/auth/access.js';
import type { KeyAdmin } from '../src/auth/keyAdmin.js';
import { validateSpaceId } from '../src/engine/validation.js';
import { authMutations, authQueries } from './authResolvers.js';
import { nodeMutations } from './nodeResolvers.js';
import { backupMutations, backupQueries } from './backupResolvers.js';
import type { BackupService } from '../src/backup/backupService.js';
import type { BatchService } from '../src/service/batchService.js';
import type { MemoryInput } from '../src/engine/memoryInput.js';
import type { NodeAdmin } from '../src/server/nodeAdmin.js';

// A type alias (not an interface) so it satisfies yoga's Record-shaped context constraint.
export type RequestContext = {
  service: NodeService;
  /** The x-memory-space header, when sent. */
  spaceHeader: string | null;
  /** Routing preferences from the request's headers. */
  request?: RequestOptions;
  /** What the caller's API key allows; open when authentication is off. */
  access: Access;
  keys: KeyAdmin;
  nodeAdmin: NodeAdmin;
  backup: BackupService;
  batch: BatchService;
};

/** A stored record with the space it was read from. */
export type MemoryView = MemoryRecord & { space: string };

type SpaceArgs = { space?: string | null };
type WriteArgs = SpaceArgs & { options?: { consistency?: WriteConsistency | null; requestId?: string | null } | null };

const DEFAULT_PAGE_SIZE = 20;

/** The request's space, once the caller's key is known to allow `need` on it. */
function spaceOf(args: SpaceArgs, context: RequestContext, need: Need = 'READ'): string {
  const space = context.service.resolveSpace(args.space, context.spaceHeader);
  context.access.require(space, need);
  return space;
}

/** The client's request id travels as the write's id. */
function withRequestId<T extends object>(input: T, args: WriteArgs): T {
  const requestId = args.options?.requestId;
  return requestId == null || input == null || typeof input !== 'object' ? input : { ...input, writeId: requestId };
}

function memoryVersionView(version: VersionBody) {
  return { content: version.content, confidence: version.confidence, version: version.clock, node: version.node || null, writeId: version.writeId, deleted: version.deleted, suppressed: version.suppressed, updatedAt: version.updatedAt, tags: version.tags };
}

function view(record: MemoryRecord, space: string): MemoryView {
  return { ...record, space };
}

export function encodeCursor(id: string): string {
  return Buffer.from(id).toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString();
  if (id.length === 0 || encodeCursor(id) !== cursor) throw new BadInputError('Invalid cursor', { details: { field: 'after' } });
  return id;
}

function recalled(memories: readonly RecalledMemory[], space: string) {
  return memories.map((m) => ({ ...m, memory: view(m.record, space) }));
}

function patternView(outcome: PatternOutcome | { record: MemoryRecord }, space: string) {
  const record = outcome.record;
  return {
    id: record.id,
    sourceEpisodes: record.pattern?.sourceEpisodes ?? [],
    confidence: record.confidence,
    strength: record.pattern?.strength ?? 0,
    cohesion: record.pattern?.cohesion ?? 0,
    lastConsolidated: record.pattern?.lastConsolidated ?? record.updatedAt,
    memory: view(record, space),
  };
}

export const resolvers = {
  DateTime,
  JSON: JSONScalar,

  Query: {
    memory: async (_: unknown, args: SpaceArgs & { id: string }, context: RequestContext) => {
      const space = spaceOf(args, context);
      const record = await context.service.memory(space, args.id, context.request);
      return record === null ? null : view(record, space);
    },
    memories: async (_: unknown, args: SpaceArgs & { first?: number | null; after?: string | null }, context: RequestContext) => {
      const space = spaceOf(args, context);
      const page = await context.service.memories(space, args.first ?? DEFAULT_PAGE_SIZE, args.after == null ? null : decodeCursor(args.after), context.request);
      const edges = page.records.map((record) => ({ cursor: encodeCursor(record.id), node: view(record, space) }));
      return { edges, totalCount: page.totalCount, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null }, ...page.coverage };
    },
    recall: async (_: unknown, args: SpaceArgs & { cue: CueInput; options?: RecallOptionsInput | null }, context: RequestContext) => {
      const space = spaceOf(args, context);
      const outcome = await context.service.recall(space, args.cue, args.options, context.request);
      const { activatedCount, candidateCount, ...metadata } = outcome.metadata;
      return {
        ...outcome,
        ...outcome.coverage,
        memories: recalled(outcome.memories, space),
        metadata: { ...metadata, ...outcome.penalty, activated: activatedCount, candidates: candidateCount },
      };
    },
    recognize: async (_: unknown, args: SpaceArgs & { cue: CueInput; threshold?: number | null }, context: RequestContext) => {
      const space = spaceOf(args, context);
      const outcome = await context.service.recognize(space, args.cue, args.threshold, context.request);
      return { ...outcome, ...outcome.coverage, similar: recalled(outcome.similar, space) };
    },
    spaces: (_: unknown, __: unknown, context: RequestContext) => context.service.spaces().filter((space) => context.access.sees(space.id)),
    cluster: (_: unknown, __: unknown, context: RequestContext) => context.service.cluster(),
    ...authQueries,
    ...backupQueries,
  },

  Mutation: {
    createSpace: (_: unknown, args: { id: string; dimension?: number | null; shards?: number | null }, context: RequestContext) => {
      context.access.require(validateSpaceId(args.id), 'WRITE');
      return context.service.createSpace(args.id, args.dimension, args.shards);
    },
    remember: async (_: unknown, args: WriteArgs & { memory: Parameters<NodeService['remember']>[1] }, context: RequestContext) => {
      const space = spaceOf(args, context, 'WRITE');
      const outcome = await context.service.remember(space, withRequestId(args.memory, args), args.options?.consistency ?? 'ONE', context.request);
      return { id: outcome.record.id, memory: view(outcome.record, space), changed: outcome.changed };
    },
    rememberEpisode: async (_: unknown, args: WriteArgs & { episode: Parameters<NodeService['rememberEpisode']>[1] }, context: RequestContext) => {
      const space = spaceOf(args, context, 'WRITE');
      const outcome = await context.service.rememberEpisode(space, withRequestId(args.episode, args), args.options?.consistency ?? 'ONE', context.request);
      return { id: outcome.record.id, memory: view(outcome.record, space), changed: outcome.changed };
    },
    forget: (_: unknown, args: SpaceArgs & { id: string; mode?: 'SUPPRESS' | 'DELETE' | null }, context: RequestContext) =>
      context.service.forget(spaceOf(args, context, 'WRITE'), args.id, args.mode ?? 'SUPPRESS', context.request),
    consolidate: async (_: unknown, args: SpaceArgs, context: RequestContext) => {
      const space = spaceOf(args, context, 'WRITE');
      const outcome = await context.service.consolidate(space, context.request);
      return { ...outcome, ...outcome.coverage, patterns: outcome.patterns.map((p) => patternView(p, space)) };
    },
    ...authMutations,
    ...nodeMutations,
    ...backupMutations,
    rememberBatch: (_: unknown, args: WriteArgs & { space?: string | null; memories: MemoryInput[] }, context: RequestContext) =>
      context.batch.rememberBatch(spaceOf(args, context, 'WRITE'), args.memories, args.options?.consistency ?? 'ONE', context.request?.headers ?? {}),
  },

  Memory: {
    activation: (memory: MemoryView, _: unknown, context: RequestContext) => context.service.engine.activationOf(memory),
    embedding: async (memory: MemoryView, _: unknown, context: RequestContext) => {
      if (!memory.hasEmbedding) return null;
      const embedding = await context.service.embedding(memory.space, memory.id, context.request);
      return embedding === null ? null : Array.from(embedding);
    },
    embeddingBase64: async (memory: MemoryView, _: unknown, context: RequestContext) => {
      if (!memory.hasEmbedding) return null;
      const embedding = await context.service.embedding(memory.space, memory.id, context.request);
      return embedding === null ? null : encodeEmbedding(embedding).toString('base64');
    },
    version: (memory: MemoryView) => memory.version,
    winner: (memory: MemoryView) => memoryVersionView(shownVersion(memory)),
    conflicts: (memory: MemoryView) => siblingsOf(memory).map(memoryVersionView),
    episode: (memory: MemoryView) => memory.episode ?? null,
    pattern: (memory: MemoryView) => (memory.kind === 'PATTERN' ? patternView({ record: memory }, memory.space) : null),
  },

  MemorySpace: {
    id: (space: MemorySpace) => space.id,
    dimension: (space: MemorySpace) => space.definition.dimension,
    shards: (space: MemorySpace) => space.definition.shards,
    createdAt: (space: MemorySpace) => space.definition.createdAt,
    memoryCount: (space: MemorySpace, _: unknown, context: RequestContext) => context.service.memoryCount(space),
    placement: (space: MemorySpace, _: unknown, context: RequestContext) => context.service.placement(space),
    replication: async (space: MemorySpace, _: unknown, context: RequestContext) =>
      (await context.service.replicationStatus(space)).map((status: UnitStatus) => ({ ...status, role: status.role.toUpperCase() })),
  },

  ConfidenceInterval: {
    width: (interval: ConfidenceInterval) => interval.upper - interval.lower,
  },
};
