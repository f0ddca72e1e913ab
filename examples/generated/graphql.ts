/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
export type CueInput = {
  embedding?: Array<number> | null | undefined;
  /** Base64 of little-endian float32 values; give this or embedding, not both. */
  embeddingBase64?: string | null | undefined;
  /** Event time (an episode's `when`, otherwise createdAt) at or after this. */
  from?: string | null | undefined;
  /** Every tag must be present. */
  tags?: Array<string> | null | undefined;
  /** Lexical match over content, tags and episode fields. */
  text?: string | null | undefined;
  /** Minimum similarity, 0..1 (default 0). */
  threshold?: number | null | undefined;
  /** Event time at or before this. */
  to?: string | null | undefined;
};

export type MemoryInput = {
  /** 0..1, default 0.5. */
  confidence?: number | null | undefined;
  /** At most 64 KiB. */
  content?: string | null | undefined;
  /** Exactly the space's dimension; finite values, not all zero. */
  embedding?: Array<number> | null | undefined;
  /** The embedding as base64 of little-endian float32 values (4 bytes per dimension): cheaper to send and parse than a list. Give this or embedding, not both. */
  embeddingBase64?: string | null | undefined;
  /** Omit to generate one. An existing id updates that memory; omitted fields keep their values. */
  id?: string | number | null | undefined;
  /** At most 16 KiB of JSON. */
  metadata?: unknown;
  /** At most 64 tags of 1..128 characters. */
  tags?: Array<string> | null | undefined;
};

export type RecallMode =
  /** Activation x confidence and similarity, each weighted by its rank in its own list, averaged (default; docs/recall.md). */
  | 'HYBRID'
  /** Rank by similarity to the cue only. */
  | 'SIMILARITY'
  /** Rank by spreading activation x confidence: what the cue's best matches bring to mind through their associations. */
  | 'SPREADING';

export type RecallOptions = {
  /** 1..1000, default 100. */
  maxResults?: number | null | undefined;
  /** Default HYBRID. */
  mode?: RecallMode | null | undefined;
};

export type WriteConsistency =
  | 'ALL'
  | 'ONE'
  | 'QUORUM';

export type WriteOptions = {
  /**
   * How many copies must hold the write before it is acknowledged: ONE (the default) the
   * primary, QUORUM a majority of the shard's copies, ALL every copy. A single node
   * acknowledges every level itself.
   */
  consistency?: WriteConsistency | null | undefined;
  /**
   * The client's identity for this write. A retry with the same id is the same write: it
   * changes nothing once the memory holds it, and an older copy of it that comes back never
   * undoes a later update. Omitted, the node that receives the request assigns one, which
   * its own retries reuse.
   */
  requestId?: string | number | null | undefined;
};

export type CreateSpaceMutationVariables = Exact<{
  id: string | number;
  dimension?: number | null | undefined;
  shards?: number | null | undefined;
}>;


export type CreateSpaceMutation = { createSpace: { id: string, dimension: number, shards: number, memoryCount: number, createdAt: string } | null };

export type RememberMutationVariables = Exact<{
  space?: string | number | null | undefined;
  memory: MemoryInput;
  options?: WriteOptions | null | undefined;
}>;


export type RememberMutation = { remember: { id: string, changed: boolean, memory: { id: string, content: string | null, confidence: number, tags: Array<string>, createdAt: string } } | null };

export type RecallQueryVariables = Exact<{
  space?: string | number | null | undefined;
  cue: CueInput;
  options?: RecallOptions | null | undefined;
}>;


export type RecallQuery = { recall: { partial: boolean, memories: Array<{ score: number, memory: { id: string, content: string | null }, confidence: { point: number, lower: number, upper: number } }>, confidence: { point: number, lower: number, upper: number }, metadata: { mode: RecallMode, activated: number, candidates: number, elapsedMs: number } } };


export const CreateSpaceDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateSpace"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"dimension"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"shards"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createSpace"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}},{"kind":"Argument","name":{"kind":"Name","value":"dimension"},"value":{"kind":"Variable","name":{"kind":"Name","value":"dimension"}}},{"kind":"Argument","name":{"kind":"Name","value":"shards"},"value":{"kind":"Variable","name":{"kind":"Name","value":"shards"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"dimension"}},{"kind":"Field","name":{"kind":"Name","value":"shards"}},{"kind":"Field","name":{"kind":"Name","value":"memoryCount"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}}]}}]} as unknown as DocumentNode<CreateSpaceMutation, CreateSpaceMutationVariables>;
export const RememberDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"Remember"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"space"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"memory"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"MemoryInput"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"options"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"WriteOptions"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"remember"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"space"},"value":{"kind":"Variable","name":{"kind":"Name","value":"space"}}},{"kind":"Argument","name":{"kind":"Name","value":"memory"},"value":{"kind":"Variable","name":{"kind":"Name","value":"memory"}}},{"kind":"Argument","name":{"kind":"Name","value":"options"},"value":{"kind":"Variable","name":{"kind":"Name","value":"options"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"changed"}},{"kind":"Field","name":{"kind":"Name","value":"memory"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"content"}},{"kind":"Field","name":{"kind":"Name","value":"confidence"}},{"kind":"Field","name":{"kind":"Name","value":"tags"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}}]}}]}}]} as unknown as DocumentNode<RememberMutation, RememberMutationVariables>;
export const RecallDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Recall"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"space"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"cue"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CueInput"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"options"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"RecallOptions"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"recall"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"space"},"value":{"kind":"Variable","name":{"kind":"Name","value":"space"}}},{"kind":"Argument","name":{"kind":"Name","value":"cue"},"value":{"kind":"Variable","name":{"kind":"Name","value":"cue"}}},{"kind":"Argument","name":{"kind":"Name","value":"options"},"value":{"kind":"Variable","name":{"kind":"Name","value":"options"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"memories"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"memory"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"content"}}]}},{"kind":"Field","name":{"kind":"Name","value":"score"}},{"kind":"Field","name":{"kind":"Name","value":"confidence"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"point"}},{"kind":"Field","name":{"kind":"Name","value":"lower"}},{"kind":"Field","name":{"kind":"Name","value":"upper"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"confidence"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"point"}},{"kind":"Field","name":{"kind":"Name","value":"lower"}},{"kind":"Field","name":{"kind":"Name","value":"upper"}}]}},{"kind":"Field","name":{"kind":"Name","value":"partial"}},{"kind":"Field","name":{"kind":"Name","value":"metadata"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"mode"}},{"kind":"Field","name":{"kind":"Name","value":"activated"}},{"kind":"Field","name":{"kind":"Name","value":"candidates"}},{"kind":"Field","name":{"kind":"Name","value":"elapsedMs"}}]}}]}}]}}]} as unknown as DocumentNode<RecallQuery, RecallQueryVariables>;