// Operation limit settings: the bounds on one GraphQL document and their defaults, each
// with its reason. Kept apart from the rules in operationLimits.ts, which load graphql, so
// that the configuration module (and the engine that reads it) stays free of graphql.

export interface OperationLimits {
  /** Deepest field nesting allowed, counted in fields from the operation root (`{ a { b } }` is 2). */
  maxDepth: number;
  /** Most aliased fields allowed in one operation, counted through fragment spreads. */
  maxAliases: number;
  /** Highest estimated cost allowed for one operation (formula at the top of operationLimits.ts). */
  maxCost: number;
  /** Most lexical tokens allowed in the request document; enforced while parsing, before any AST is built. */
  maxTokens: number;
  /** Most directive usages allowed in one operation, counted through fragment spreads. */
  maxDirectives: number;
  /** Deepest nesting of `{`, `[` and `(` in the request document, counted by the lexer before parsing. */
  maxNesting: number;
}

/**
 * Defaults for the public Engram endpoint. Set a limit to `Infinity` to
 * disable it.
 */
export const defaultOperationLimits: OperationLimits = {
  /**
   * 12 fields. Engram's deepest real queries, such as recall → memories →
   * memory → associations → target → id, are about 6 levels deep, so this
   * is double that. It still stops a recursive type such as an association
   * graph from being walked without end.
   */
  maxDepth: 12,
  /**
   * 30 aliased fields. Clients alias a handful of fields, for example to
   * compare a few cues side by side. Thousands of aliases are how one HTTP
   * request turns into thousands of recalls or writes.
   */
  maxAliases: 30,
  /**
   * 5000 cost units. A plain field costs 1. With the intended map
   * (`Query.recall` 50, `Mutation.remember` 10, `Mutation.consolidate` 500),
   * this allows dozens of recalls with their nested memories, but not
   * hundreds of recalls or a wide fan-out of lists.
   */
  maxCost: 5000,
  /**
   * 10000 lexical tokens. graphql's standard introspection query is under
   * 1000 tokens and real app queries are a few hundred. Parsing and
   * validation time grow with document size, so this is the first and
   * cheapest cut.
   */
  maxTokens: 10000,
  /**
   * 20 directive usages. Clients use a few `@include`/`@skip`. Thousands of
   * repeated directives ("directive overloading") exist only to burn
   * validation CPU.
   */
  maxDirectives: 20,
  /**
   * 64 levels of `{`, `[` and `(`. The depth limit allows 12 fields (13
   * braces), input objects and lists in arguments add a few, and graphql's
   * standard introspection query nests about 12. graphql's recursive-descent
   * parser overflows the stack near 1,500 levels (measured on Node 20: 1,571
   * objects, 1,982 lists), far inside the token limit, so the lexer refuses
   * deep documents before the parser recurses.
   */
  maxNesting: 64,
};
