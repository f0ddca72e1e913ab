/*
 * Response budget: a per-request allowance of response bytes, charged while the response
 * is produced rather than after it is serialised.
 *
 * Mechanism. The fields that carry large values (content, metadata, embeddings, tags,
 * episode text) get a wrapping resolver at schema construction. The wrapper refuses at
 * once when the request's budget is spent, so a huge query stops loading embeddings and
 * building strings as soon as it crosses the line; otherwise it resolves the value,
 * estimates its size as JSON and charges it. graphql-js starts the resolvers of every item
 * of a list in the same tick, before any has loaded, so a field whose size is known before
 * loading (an embedding: its space's dimension) charges that size up front, and the
 * siblings after the first over-budget one refuse without loading at all. Small fields
 * are not charged: the HTTP layer still checks the serialised payload against the same
 * maximum, as the final word.
 *  - A query over budget answers one error (BAD_USER_INPUT, limit `responseBytes`, HTTP
 *    400) instead of partial data: {@link useResponseBudget} replaces the result.
 *  - A mutation has side effects that already happened, so it keeps its data and gets an
 *    error at each field that did not fit, and the client sees what was written.
 */

import { defaultFieldResolver, getOperationAST, GraphQLError, type GraphQLFieldResolver, type GraphQLResolveInfo, type GraphQLSchema, isObjectType } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * JSON bytes of one number of an embedding: a float32 widened to a double prints up to 17
 * significant digits, and a normalised 768-dimension embedding averages 21.5 bytes a number
 * with its sign, "0." and comma (measured). An average, not a bound: the serialised payload
 * is checked exactly at the HTTP layer.
 */
export const BYTES_PER_NUMBER = 21.5;

/** How one charged field is sized. */
export interface BudgetedField {
  /** Bytes known before the value is loaded, charged first so that parallel siblings see them; the estimate of the loaded value replaces it. */
  expectedBytes?: (source: unknown, context: BudgetContext) => number;
}

export type BudgetedFields = Readonly<Record<string, Readonly<Record<string, BudgetedField>>>>;

/** Fields whose values can be large, by type: the ones charged against the budget. */
export const BUDGETED_FIELDS: BudgetedFields = {
  Memory: { content: {}, metadata: {}, embedding: {}, embeddingBase64: {}, tags: {} },
  Episode: { what: {}, where: {}, why: {}, how: {}, who: {} },
  Pattern: { sourceEpisodes: {} },
  MemoryVersion: { content: {} },
};

/** The response bytes one request may still produce. */
export class ResponseBudget {
  private used = 0;
  private overrun = false;

  constructor(readonly maxBytes: number) {}

  get exceeded(): boolean {
    return this.overrun;
  }

  /** Charges `bytes`; false once the total passes the maximum. */
  charge(bytes: number): boolean {
    this.used += bytes;
    if (this.used > this.maxBytes) this.overrun = true;
    return !this.overrun;
  }
}

/** Context field holding the request's budget. */
export interface BudgetContext {
  responseBudget: ResponseBudget;
}

/** Estimated JSON size of a resolved value: exact for strings without escapes, close for numbers. */
export function estimateJsonBytes(value: unknown): number {
  if (value === null || value === undefined) return 4;
  if (typeof value === 'string') return Buffer.byteLength(value) + 2;
  if (typeof value === 'number' || typeof value === 'boolean') return BYTES_PER_NUMBER;
  if (Array.isArray(value)) {
    let total = 2;
    for (const item of value) total += typeof item === 'number' ? BYTES_PER_NUMBER : estimateJsonBytes(item) + 1;
    return total;
  }
  try {
    return Buffer.byteLength(JSON.stringify(value) ?? '');
  } catch {
    return 0; // Unserialisable values fail in serialisation, where they are reported.
  }
}

export function responseLimitMessage(maxBytes: number): string {
  return `The response exceeds the limit of ${maxBytes} bytes; ask for fewer items or fields.`;
}

/** The one error a query over budget gets; `spec: false` so application/json clients get 400 too. */
export function responseLimitError(maxBytes: number): GraphQLError {
  return new GraphQLError(responseLimitMessage(maxBytes), {
    extensions: { code: 'BAD_USER_INPUT', limit: 'responseBytes', maxResponseBytes: maxBytes, http: { status: 400, spec: false } },
  });
}

/** The error at a mutation's field that did not fit: no HTTP status, so the data that was written is still returned. */
function fieldOverBudget(maxBytes: number): GraphQLError {
  return new GraphQLError(responseLimitMessage(maxBytes), { extensions: { code: 'BAD_USER_INPUT', limit: 'responseBytes', maxResponseBytes: maxBytes } });
}

function budgeted(resolve: GraphQLFieldResolver<unknown, BudgetContext>, sizing: BudgetedField): GraphQLFieldResolver<unknown, BudgetContext> {
  return (source, args, context, info: GraphQLResolveInfo) => {
    const budget = context.responseBudget;
    if (budget.exceeded) throw fieldOverBudget(budget.maxBytes);
    const expected = sizing.expectedBytes?.(source, context) ?? 0;
    if (!budget.charge(expected)) throw fieldOverBudget(budget.maxBytes);
    const settle = (value: unknown) => {
      if (!budget.charge(estimateJsonBytes(value) - expected)) throw fieldOverBudget(budget.maxBytes);
      return value;
    };
    const value = resolve(source, args, context, info);
    return value instanceof Promise ? value.then(settle) : settle(value);
  };
}

/**
 * Wraps the resolvers of `fields` in a built schema, the default resolver included, so
 * every large value is charged. Fields the schema lacks are skipped.
 */
export function withResponseBudget(schema: GraphQLSchema, fields: BudgetedFields = BUDGETED_FIELDS): GraphQLSchema {
  for (const [typeName, sizings] of Object.entries(fields)) {
    const type = schema.getType(typeName);
    if (!isObjectType(type)) continue;
    const defined = type.getFields();
    for (const [name, sizing] of Object.entries(sizings)) {
      const field = defined[name];
      if (field === undefined) continue;
      field.resolve = budgeted((field.resolve ?? defaultFieldResolver) as GraphQLFieldResolver<unknown, BudgetContext>, sizing);
    }
  }
  return schema;
}

/** Replaces the partial result of a query that ran over budget with the one limit error. */
export function useResponseBudget(): Plugin<BudgetContext> {
  return {
    onExecute({ args }) {
      return {
        onExecuteDone({ result, setResult }) {
          const budget = (args.contextValue as Partial<BudgetContext>).responseBudget;
          if (budget === undefined || !budget.exceeded || Symbol.asyncIterator in result) return;
          if (getOperationAST(args.document, args.operationName)?.operation === 'mutation') return;
          setResult({ errors: [responseLimitError(budget.maxBytes)] });
        },
      };
    },
  };
}
