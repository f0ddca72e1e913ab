/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  mutation CreateSpace($id: ID!, $dimension: Int, $shards: Int) {\n    createSpace(id: $id, dimension: $dimension, shards: $shards) {\n      id\n      dimension\n      shards\n      memoryCount\n      createdAt\n    }\n  }\n": typeof types.CreateSpaceDocument,
    "\n  mutation Remember($space: ID, $memory: MemoryInput!, $options: WriteOptions) {\n    remember(space: $space, memory: $memory, options: $options) {\n      id\n      changed\n      memory {\n        id\n        content\n        confidence\n        tags\n        createdAt\n      }\n    }\n  }\n": typeof types.RememberDocument,
    "\n  query Recall($space: ID, $cue: CueInput!, $options: RecallOptions) {\n    recall(space: $space, cue: $cue, options: $options) {\n      memories {\n        memory {\n          id\n          content\n        }\n        score\n        confidence {\n          point\n          lower\n          upper\n        }\n      }\n      confidence {\n        point\n        lower\n        upper\n      }\n      partial\n      metadata {\n        mode\n        activated\n        candidates\n        elapsedMs\n      }\n    }\n  }\n": typeof types.RecallDocument,
};
const documents: Documents = {
    "\n  mutation CreateSpace($id: ID!, $dimension: Int, $shards: Int) {\n    createSpace(id: $id, dimension: $dimension, shards: $shards) {\n      id\n      dimension\n      shards\n      memoryCount\n      createdAt\n    }\n  }\n": types.CreateSpaceDocument,
    "\n  mutation Remember($space: ID, $memory: MemoryInput!, $options: WriteOptions) {\n    remember(space: $space, memory: $memory, options: $options) {\n      id\n      changed\n      memory {\n        id\n        content\n        confidence\n        tags\n        createdAt\n      }\n    }\n  }\n": types.RememberDocument,
    "\n  query Recall($space: ID, $cue: CueInput!, $options: RecallOptions) {\n    recall(space: $space, cue: $cue, options: $options) {\n      memories {\n        memory {\n          id\n          content\n        }\n        score\n        confidence {\n          point\n          lower\n          upper\n        }\n      }\n      confidence {\n        point\n        lower\n        upper\n      }\n      partial\n      metadata {\n        mode\n        activated\n        candidates\n        elapsedMs\n      }\n    }\n  }\n": types.RecallDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateSpace($id: ID!, $dimension: Int, $shards: Int) {\n    createSpace(id: $id, dimension: $dimension, shards: $shards) {\n      id\n      dimension\n      shards\n      memoryCount\n      createdAt\n    }\n  }\n"): (typeof documents)["\n  mutation CreateSpace($id: ID!, $dimension: Int, $shards: Int) {\n    createSpace(id: $id, dimension: $dimension, shards: $shards) {\n      id\n      dimension\n      shards\n      memoryCount\n      createdAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Remember($space: ID, $memory: MemoryInput!, $options: WriteOptions) {\n    remember(space: $space, memory: $memory, options: $options) {\n      id\n      changed\n      memory {\n        id\n        content\n        confidence\n        tags\n        createdAt\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation Remember($space: ID, $memory: MemoryInput!, $options: WriteOptions) {\n    remember(space: $space, memory: $memory, options: $options) {\n      id\n      changed\n      memory {\n        id\n        content\n        confidence\n        tags\n        createdAt\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Recall($space: ID, $cue: CueInput!, $options: RecallOptions) {\n    recall(space: $space, cue: $cue, options: $options) {\n      memories {\n        memory {\n          id\n          content\n        }\n        score\n        confidence {\n          point\n          lower\n          upper\n        }\n      }\n      confidence {\n        point\n        lower\n        upper\n      }\n      partial\n      metadata {\n        mode\n        activated\n        candidates\n        elapsedMs\n      }\n    }\n  }\n"): (typeof documents)["\n  query Recall($space: ID, $cue: CueInput!, $options: RecallOptions) {\n    recall(space: $space, cue: $cue, options: $options) {\n      memories {\n        memory {\n          id\n          content\n        }\n        score\n        confidence {\n          point\n          lower\n          upper\n        }\n      }\n      confidence {\n        point\n        lower\n        upper\n      }\n      partial\n      metadata {\n        mode\n        activated\n        candidates\n        elapsedMs\n      }\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;