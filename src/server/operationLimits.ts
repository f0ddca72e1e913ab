/*
 * Operation limits: reject over-sized GraphQL operations before anything executes.
 *
 * Mechanism. Three layers run in front of execution:
 *  1. Before parsing, one lexical pass (yoga's onParams hook) counts tokens and
 *     the nesting of `{`, `[` and `(`, and stops at either limit. graphql's
 *     parser is recursive descent and overflows the stack near 1,500 levels, far
 *     inside the token limit, so nesting must be refused before it runs. The
 *     token limit is also passed to the parser (`maxLexicalTokens`), and a stack
 *     overflow inside it becomes the nesting error, for paths that skip onParams.
 *  2. Validation time: one graphql-js validation rule per limit (depth,
 *     aliases, cost, directives). A failed validation means graphql-yoga
 *     never calls execute, so no resolver runs and nothing is written.
 *     Validation has no variable values, so a variable is priced at its lower
 *     bound there (a list of 1, a text of no words) and the verdict can be
 *     cached with the document.
 *  3. Execution time (onExecute, before any resolver): an operation that uses
 *     variables is measured again with the request's values, and refused with
 *     the same cost error when they push it over the limit.
 * Every rejection is a GraphQLError with extensions
 * `{ code: 'BAD_USER_INPUT', limit: '<name>', http: { status: 400, spec: false } }`.
 * `spec: false` is needed to get a 400. Without it, yoga treats a validation
 * error as a spec error and answers 200 to `application/json` clients. The
 * `http` key is removed from the response body. Each limit is reported at
 * most once per operation. All operations in the document are checked at
 * validation, not just the one selected by `operationName`, as graphql-js
 * validation does; the execution-time check measures the selected one.
 *
 * How the numbers are measured, and the cost formula: operationMeasurer.ts.
 */
import { GraphQLError, Lexer, Source, TokenKind, getOperationAST } from 'graphql';
import type { ASTVisitor, DocumentNode, GraphQLSchema, OperationDefinitionNode, ValidationContext, ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { fragmentsOf, OperationMeasurer, ResolvedCostModel, scopeOf, type CostModel, type Measure } from './operationMeasurer.js';

export type { CostModel, ItemCost, WordCost } from './operationMeasurer.js';
export { defaultOperationLimits, type OperationLimits } from './operationLimitSettings.js';
import type { OperationLimits } from './operationLimitSettings.js';

type LimitName = 'depth' | 'aliases' | 'cost' | 'directives' | 'tokens' | 'nesting';

function limitError(
  message: string,
  limit: LimitName,
  nodes?: OperationDefinitionNode,
  source?: GraphQLError['source'],
  positions?: readonly number[],
): GraphQLError {
  return new GraphQLError(message, {
    nodes,
    source,
    positions,
    // `spec: false` stops yoga from treating this as a spec validation error.
    // Those get 200 when the client accepts application/json.
    extensions: { code: 'BAD_USER_INPUT', limit, http: { status: 400, spec: false } },
  });
}

function assertLimits(limits: OperationLimits, costs: Record<string, number>, model: CostModel): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!(value === Infinity || (Number.isInteger(value) && value >= 0))) {
      throw new TypeError(`Operation limit ${name} must be a non-negative integer or Infinity, got ${String(value)}`);
    }
  }
  const numbers: [string, number][] = [
    ...Object.entries(costs),
    ...Object.entries(model.wordCosts ?? {}).map(([coordinate, rule]): [string, number] => [`${coordinate} per word`, rule.costPerWord]),
    ...Object.entries(model.defaultListSizes ?? {}).map(([coordinate, size]): [string, number] => [`${coordinate} default list size`, size]),
  ];
  for (const [coordinate, value] of numbers) {
    if (!(Number.isFinite(value) && value >= 0)) {
      throw new TypeError(`Field cost for ${coordinate} must be a finite non-negative number, got ${String(value)}`);
    }
  }
}

// ---------------------------------------------------------------------------
// Validation rules
// ---------------------------------------------------------------------------

/**
 * Measures each operation once and shares the result between the four rules
 * in one validation pass. The cache is weakly keyed by schema and document.
 * Variables are unknown here, so they are priced at their lower bound.
 */
function createMeasureCache(costs: Record<string, number>, model: ResolvedCostModel) {
  const bySchema = new WeakMap<GraphQLSchema, WeakMap<OperationDefinitionNode, Measure>>();
  return (context: ValidationContext, operation: OperationDefinitionNode): Measure => {
    const schema = context.getSchema();
    let byOperation = bySchema.get(schema);
    if (!byOperation) {
      byOperation = new WeakMap();
      bySchema.set(schema, byOperation);
    }
    let measure = byOperation.get(operation);
    if (!measure) {
      const fragments = fragmentsOf(context.getDocument());
      measure = new OperationMeasurer(schema, fragments, costs, model, scopeOf(operation, undefined)).measureOperation(operation);
      byOperation.set(operation, measure);
    }
    return measure;
  };
}

function operationLabel(operation: OperationDefinitionNode): string {
  const kind = operation.operation;
  return kind.charAt(0).toUpperCase() + kind.slice(1);
}

function costError(cost: number, maxCost: number, operation: OperationDefinitionNode): GraphQLError {
  return limitError(`${operationLabel(operation)} estimated cost ${cost} exceeds the limit of ${maxCost}.`, 'cost', operation);
}

function limitRule(
  ruleName: string,
  measureOf: (context: ValidationContext, operation: OperationDefinitionNode) => Measure,
  check: (measure: Measure, operation: OperationDefinitionNode) => GraphQLError | undefined,
): ValidationRule {
  const rule = (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(operation) {
      const error = check(measureOf(context, operation), operation);
      if (error) context.reportError(error);
      return false; // This rule has measured the operation, so it skips the subtree.
    },
  });
  // yoga's validation cache keys on rule names, so give each rule a stable, distinct name.
  Object.defineProperty(rule, 'name', { value: ruleName });
  return rule;
}

/**
 * graphql-js validation rules for depth, alias, cost and directive limits.
 * The token and nesting limits are applied before parsing by {@link useOperationLimits}.
 * `costs` maps `"Type.field"` to that field's own cost (default 1).
 */
export function operationLimitRules(limits: OperationLimits, costs: Record<string, number> = {}, model: CostModel = {}): ValidationRule[] {
  assertLimits(limits, costs, model);
  const measureOf = createMeasureCache(costs, new ResolvedCostModel(model));
  return [
    limitRule('OperationDepthLimitRule', measureOf, (m, op) =>
      m.depth > limits.maxDepth
        ? limitError(`${operationLabel(op)} depth ${m.depth} exceeds the limit of ${limits.maxDepth}.`, 'depth', op)
        : undefined,
    ),
    limitRule('OperationAliasLimitRule', measureOf, (m, op) =>
      m.aliases > limits.maxAliases
        ? limitError(
            `${operationLabel(op)} uses ${m.aliases} aliases, exceeding the limit of ${limits.maxAliases}.`,
            'aliases',
            op,
          )
        : undefined,
    ),
    limitRule('OperationCostLimitRule', measureOf, (m, op) => (m.cost > limits.maxCost ? costError(m.cost, limits.maxCost, op) : undefined)),
    limitRule('OperationDirectiveLimitRule', measureOf, (m, op) =>
      m.directives > limits.maxDirectives
        ? limitError(
            `${operationLabel(op)} uses ${m.directives} directives, exceeding the limit of ${limits.maxDirectives}.`,
            'directives',
            op,
          )
        : undefined,
    ),
  ];
}

/**
 * Cost of the operation that is about to execute, with the request's variable values,
 * or undefined when the operation has no variables (validation priced it exactly).
 */
export function executionCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Readonly<Record<string, unknown>> | null | undefined,
  costs: Record<string, number> = {},
  model: CostModel | ResolvedCostModel = {},
): { cost: number; operation: OperationDefinitionNode } | undefined {
  const operation = getOperationAST(document, operationName);
  if (!operation?.variableDefinitions?.length) return undefined;
  const resolved = model instanceof ResolvedCostModel ? model : new ResolvedCostModel(model);
  const measurer = new OperationMeasurer(schema, fragmentsOf(document), costs, resolved, scopeOf(operation, variables ?? {}));
  return { cost: measurer.measureOperation(operation).cost, operation };
}

// ---------------------------------------------------------------------------
// Plugin
// ---------------------------------------------------------------------------

/**
 * Which limit `query` exceeds, if any: more than `maxTokens` lexical tokens, counted the
 * way graphql's parser counts them (comments excluded), or `{`, `[` and `(` nested deeper
 * than `maxNesting`. Stops lexing at the first one. Lexical errors are left for the parser
 * to report; it meets them no deeper than this pass did.
 */
function scanDocument(query: string, maxTokens: number, maxNesting: number): 'tokens' | 'nesting' | undefined {
  if (maxTokens === Infinity && maxNesting === Infinity) return undefined;
  const lexer = new Lexer(new Source(query));
  let count = 0;
  let depth = 0;
  try {
    for (let token = lexer.advance(); token.kind !== TokenKind.EOF; token = lexer.advance()) {
      count += 1;
      if (count > maxTokens) return 'tokens';
      switch (token.kind) {
        case TokenKind.BRACE_L:
        case TokenKind.BRACKET_L:
        case TokenKind.PAREN_L:
          depth += 1;
          if (depth > maxNesting) return 'nesting';
          break;
        case TokenKind.BRACE_R:
        case TokenKind.BRACKET_R:
        case TokenKind.PAREN_R:
          depth = Math.max(0, depth - 1);
          break;
        default:
          break;
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}

function tokenLimitMessage(max: number): string {
  return `Query document exceeds the limit of ${max} tokens.`;
}

function nestingLimitMessage(max: number): string {
  return `Query document nests {, [ and ( deeper than the limit of ${max} levels.`;
}

/** graphql-js's message when `maxLexicalTokens` aborts a parse ("more that N tokens" is its own typo). */
const TOKEN_LIMIT_MESSAGE = /Document contains more tha[nt] \d+ tokens\. Parsing aborted\./;

/**
 * Yoga plugin that enforces all the limits.
 *  - onParams: counts tokens and nesting before parsing and rejects with a
 *    400. Yoga marks parse errors as spec errors, so a limit hit inside
 *    `parse` would reach application/json clients as a 200.
 *  - onParse: also passes the token limit to graphql's parser as
 *    `maxLexicalTokens`, and turns a stack overflow into the nesting error.
 *    This covers paths that skip onParams, such as a transport calling
 *    `getEnveloped` directly.
 *  - onValidate: adds {@link operationLimitRules}.
 *  - onExecute: prices the operation again with its variable values, before
 *    any resolver runs, and stops execution when they exceed the cost limit.
 */
export function useOperationLimits(limits: OperationLimits, costs: Record<string, number> = {}, model: CostModel = {}): Plugin {
  const rules = operationLimitRules(limits, costs, model);
  const resolved = new ResolvedCostModel(model);
  const { maxTokens, maxNesting, maxCost } = limits;
  return {
    onParams({ params }) {
      if (typeof params.query !== 'string') return;
      const exceeded = scanDocument(params.query, maxTokens, maxNesting);
      if (exceeded === 'tokens') throw limitError(tokenLimitMessage(maxTokens), 'tokens');
      if (exceeded === 'nesting') throw limitError(nestingLimitMessage(maxNesting), 'nesting');
    },
    onParse({ parseFn, setParseFn }) {
      setParseFn((source: unknown, options?: Record<string, unknown>) => {
        const existing = options?.['maxLexicalTokens'] ?? options?.['maxTokens'];
        const effective = typeof existing === 'number' ? Math.min(existing, maxTokens) : maxTokens;
        try {
          return parseFn(source, { ...options, maxLexicalTokens: effective });
        } catch (error) {
          if (error instanceof GraphQLError && TOKEN_LIMIT_MESSAGE.test(error.message)) {
            throw limitError(
              tokenLimitMessage(effective),
              'tokens',
              undefined,
              error.source,
              error.positions,
            );
          }
          if (error instanceof RangeError) throw limitError(nestingLimitMessage(maxNesting), 'nesting');
          throw error;
        }
      });
    },
    onValidate({ addValidationRule }) {
      for (const rule of rules) addValidationRule(rule);
    },
    onExecute({ args, setResultAndStopExecution }) {
      if (maxCost === Infinity) return;
      const priced = executionCost(args.schema, args.document, args.operationName, args.variableValues, costs, resolved);
      if (priced !== undefined && priced.cost > maxCost) setResultAndStopExecution({ errors: [costError(priced.cost, maxCost, priced.operation)] });
    },
  };
}
