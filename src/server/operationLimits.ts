/*
 * Operation limits: reject over-sized GraphQL operations before anything executes.
 *
 * Mechanism. Two layers run in front of execution:
 *  1. Before parsing, the token limit. The plugin counts lexical tokens in
 *     yoga's onParams hook and stops counting at the limit. It also passes
 *     the limit to graphql's parser (`maxLexicalTokens`) for paths that skip
 *     onParams. A giant document never becomes a huge AST.
 *  2. Validation time: one graphql-js validation rule per limit (depth,
 *     aliases, cost, directives). A failed validation means graphql-yoga
 *     never calls execute, so no resolver runs and nothing is written.
 * Every rejection is a GraphQLError with extensions
 * `{ code: 'BAD_USER_INPUT', limit: '<name>', http: { status: 400, spec: false } }`.
 * `spec: false` is needed to get a 400. Without it, yoga treats a validation
 * error as a spec error and answers 200 to `application/json` clients. The
 * `http` key is removed from the response body. Each limit is reported at
 * most once per operation. All operations in the document are checked, not
 * just the one selected by `operationName`, as graphql-js validation does.
 *
 * How the numbers are measured. The walk expands named and inline fragments.
 * Each named fragment is measured once for each incoming list-size hint
 * and introspection state, and memoised. So a document that spreads
 * fragments inside fragments cannot make the walk exponential. A
 * fragment that is already being expanded contributes nothing (a cycle).
 * graphql's NoFragmentCycles rule reports the cycle, and this walk still
 * ends if it runs first.
 *  - depth: fields on the longest path from the operation root.
 *    `{ a { b } }` has depth 2. Inside introspection (fields named `__*`),
 *    `ofType` adds no depth. It only unwraps a type reference one-to-one
 *    without fan-out, and graphql's standard introspection query nests it 9
 *    deep, which would otherwise exceed any sensible limit.
 *  - aliases: the number of aliased fields in the operation, counting a
 *    fragment once for every place it is spread. Introspection is included.
 *  - directives: directive usages on the operation, its variables, fields,
 *    fragment spreads, inline fragments and the fragment definitions they
 *    expand to.
 *  - cost: summed over the selected fields:
 *        cost(field) = own(field) + multiplier(field) * cost(child selections)
 *    own(field) is `costs["Parent.field"]`, or 1 if there is no entry.
 *    multiplier(field) is 1 for a field that does not return a list. For a
 *    list field it is the list-size estimate, which is the first literal
 *    integer found among:
 *      a. the field's own `first`/`last`/`limit`/`maxResults` argument, or
 *         that key inside an object-literal argument (e.g.
 *         `recall(options: { maxResults: 5 })`);
 *      b. the same arguments on the nearest ancestor that has them, when no
 *         list field lies between. So `recall(options: { maxResults: 5 })
 *         { memories { ... } }` multiplies `memories` by 5;
 *      c. otherwise DEFAULT_LIST_SIZE (10).
 *    A literal is needed because validation runs without variable values. A
 *    size passed as a variable therefore counts as 10, so resolvers must
 *    still clamp their own page sizes.
 *    Introspection fields (`__schema`, `__type`, `__typename`) and their
 *    subtrees cost 0: they read the in-memory schema, not storage. Depth,
 *    aliases, directives and tokens still bound them.
 */
import {
  GraphQLError,
  Kind,
  Lexer,
  Source,
  TokenKind,
  getNamedType,
  getNullableType,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
} from 'graphql';
import type {
  ASTVisitor,
  DirectiveNode,
  FieldNode,
  FragmentDefinitionNode,
  GraphQLCompositeType,
  GraphQLSchema,
  OperationDefinitionNode,
  SelectionSetNode,
  ValidationContext,
  ValidationRule,
  ValueNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';

export interface OperationLimits {
  /** Deepest field nesting allowed, counted in fields from the operation root (`{ a { b } }` is 2). */
  maxDepth: number;
  /** Most aliased fields allowed in one operation, counted through fragment spreads. */
  maxAliases: number;
  /** Highest estimated cost allowed for one operation (formula at the top of this file). */
  maxCost: number;
  /** Most lexical tokens allowed in the request document; enforced while parsing, before any AST is built. */
  maxTokens: number;
  /** Most directive usages allowed in one operation, counted through fragment spreads. */
  maxDirectives: number;
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
};

/** List-size estimate for list fields without a literal size argument. */
const DEFAULT_LIST_SIZE = 10;
/** Argument names read as a list-size hint, at top level or inside an object-literal argument. */
const LIST_SIZE_ARGUMENTS: ReadonlySet<string> = new Set(['first', 'last', 'limit', 'maxResults']);

type LimitName = 'depth' | 'aliases' | 'cost' | 'directives' | 'tokens';

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

function assertLimits(limits: OperationLimits, costs: Record<string, number>): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!(value === Infinity || (Number.isInteger(value) && value >= 0))) {
      throw new TypeError(`Operation limit ${name} must be a non-negative integer or Infinity, got ${String(value)}`);
    }
  }
  for (const [coordinate, value] of Object.entries(costs)) {
    if (!(Number.isFinite(value) && value >= 0)) {
      throw new TypeError(`Field cost for ${coordinate} must be a finite non-negative number, got ${String(value)}`);
    }
  }
}

// ---------------------------------------------------------------------------
// Measurement
// ---------------------------------------------------------------------------

interface Measure {
  depth: number;
  aliases: number;
  cost: number;
  directives: number;
}

function emptyMeasure(): Measure {
  return { depth: 0, aliases: 0, cost: 0, directives: 0 };
}

/** Literal integer list-size hint from a field's arguments, if any. */
function listSizeHint(args: readonly { name: { value: string }; value: ValueNode }[] | undefined): number | undefined {
  if (!args) return undefined;
  for (const arg of args) {
    if (LIST_SIZE_ARGUMENTS.has(arg.name.value) && arg.value.kind === Kind.INT) {
      return Math.max(0, Number.parseInt(arg.value.value, 10));
    }
  }
  for (const arg of args) {
    if (arg.value.kind === Kind.OBJECT) {
      const hint = listSizeHint(arg.value.fields);
      if (hint !== undefined) return hint;
    }
  }
  return undefined;
}

class OperationMeasurer {
  /** Fragment measurements, keyed by fragment name, incoming list-size hint and introspection state. */
  private readonly fragmentCache = new Map<string, Measure>();
  private readonly inProgress = new Set<string>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>,
    private readonly costs: Record<string, number>,
  ) {}

  measureOperation(operation: OperationDefinitionNode): Measure {
    const rootType = this.schema.getRootType(operation.operation) ?? undefined;
    const m = this.selectionSet(operation.selectionSet, rootType, false, undefined);
    m.directives += countDirectives(operation.directives);
    for (const variable of operation.variableDefinitions ?? []) {
      m.directives += countDirectives(variable.directives);
    }
    return m;
  }

  private selectionSet(
    selectionSet: SelectionSetNode,
    parentType: GraphQLCompositeType | undefined,
    inIntrospection: boolean,
    hint: number | undefined,
  ): Measure {
    const total = emptyMeasure();
    for (const selection of selectionSet.selections) {
      let m: Measure;
      switch (selection.kind) {
        case Kind.FIELD:
          m = this.field(selection, parentType, inIntrospection, hint);
          break;
        case Kind.INLINE_FRAGMENT: {
          const typeCondition = selection.typeCondition
            ? this.compositeType(selection.typeCondition.name.value)
            : parentType;
          m = this.selectionSet(selection.selectionSet, typeCondition, inIntrospection, hint);
          m.directives += countDirectives(selection.directives);
          break;
        }
        case Kind.FRAGMENT_SPREAD:
          m = this.fragment(selection.name.value, inIntrospection, hint);
          m.directives += countDirectives(selection.directives);
          break;
      }
      total.depth = Math.max(total.depth, m.depth);
      total.aliases += m.aliases;
      total.cost += m.cost;
      total.directives += m.directives;
    }
    return total;
  }

  private field(
    node: FieldNode,
    parentType: GraphQLCompositeType | undefined,
    parentInIntrospection: boolean,
    inheritedHint: number | undefined,
  ): Measure {
    const name = node.name.value;
    const inIntrospection = parentInIntrospection || name.startsWith('__');
    const fieldDef =
      parentType && (isObjectType(parentType) || isInterfaceType(parentType))
        ? parentType.getFields()[name]
        : undefined;
    const nullableType = fieldDef ? getNullableType(fieldDef.type) : undefined;
    const isList = nullableType !== undefined && isListType(nullableType);
    const namedType = fieldDef ? getNamedType(fieldDef.type) : undefined;
    const childType = namedType && isCompositeType(namedType) ? namedType : undefined;

    const hint = listSizeHint(node.arguments) ?? inheritedHint;
    const multiplier = isList ? (hint ?? DEFAULT_LIST_SIZE) : 1;
    // A list uses up the hint. A non-list wrapper such as RecallResult passes it on.
    const childHint = isList ? undefined : hint;

    const children = node.selectionSet
      ? this.selectionSet(node.selectionSet, childType, inIntrospection, childHint)
      : emptyMeasure();

    const ownCost = inIntrospection ? 0 : (parentType ? this.costs[`${parentType.name}.${name}`] : undefined) ?? 1;
    const addsDepth = !(inIntrospection && name === 'ofType');
    return {
      depth: children.depth + (addsDepth ? 1 : 0),
      aliases: children.aliases + (node.alias ? 1 : 0),
      cost: inIntrospection ? 0 : ownCost + multiplier * children.cost,
      directives: children.directives + countDirectives(node.directives),
    };
  }

  private fragment(name: string, inIntrospection: boolean, hint: number | undefined): Measure {
    const definition = this.fragments.get(name);
    // Unknown fragment (KnownFragmentNames reports it) or a cycle (NoFragmentCycles reports it).
    if (!definition || this.inProgress.has(name)) return emptyMeasure();
    // The measurement depends on the incoming hint and introspection state,
    // so both are part of the key. The number of distinct keys is bounded by
    // the literals in the document, so the memo stays small and repeated
    // spreads cannot make the walk exponential.
    const key = `${name}|${hint ?? ''}|${inIntrospection ? 1 : 0}`;
    const cached = this.fragmentCache.get(key);
    if (cached) return { ...cached };
    this.inProgress.add(name);
    try {
      const m = this.selectionSet(
        definition.selectionSet,
        this.compositeType(definition.typeCondition.name.value),
        inIntrospection,
        hint,
      );
      m.directives += countDirectives(definition.directives);
      this.fragmentCache.set(key, { ...m });
      return m;
    } finally {
      this.inProgress.delete(name);
    }
  }

  private compositeType(name: string): GraphQLCompositeType | undefined {
    const type = this.schema.getType(name);
    return type && isCompositeType(type) ? type : undefined;
  }
}

function countDirectives(directives: readonly DirectiveNode[] | undefined): number {
  return directives?.length ?? 0;
}

// ---------------------------------------------------------------------------
// Validation rules
// ---------------------------------------------------------------------------

/**
 * Measures each operation once and shares the result between the four rules
 * in one validation pass. The cache is weakly keyed by schema and document.
 */
function createMeasureCache(costs: Record<string, number>) {
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
      const fragments = new Map<string, FragmentDefinitionNode>();
      for (const definition of context.getDocument().definitions) {
        if (definition.kind === Kind.FRAGMENT_DEFINITION && !fragments.has(definition.name.value)) {
          fragments.set(definition.name.value, definition);
        }
      }
      measure = new OperationMeasurer(schema, fragments, costs).measureOperation(operation);
      byOperation.set(operation, measure);
    }
    return measure;
  };
}

function operationLabel(operation: OperationDefinitionNode): string {
  const kind = operation.operation;
  return kind.charAt(0).toUpperCase() + kind.slice(1);
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
 * The token limit is applied at parse time by {@link useOperationLimits}.
 * `costs` maps `"Type.field"` to that field's own cost (default 1).
 */
export function operationLimitRules(limits: OperationLimits, costs: Record<string, number> = {}): ValidationRule[] {
  assertLimits(limits, costs);
  const measureOf = createMeasureCache(costs);
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
    limitRule('OperationCostLimitRule', measureOf, (m, op) =>
      m.cost > limits.maxCost
        ? limitError(
            `${operationLabel(op)} estimated cost ${m.cost} exceeds the limit of ${limits.maxCost}.`,
            'cost',
            op,
          )
        : undefined,
    ),
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

// ---------------------------------------------------------------------------
// Plugin
// ---------------------------------------------------------------------------

/**
 * Whether `query` has more than `max` lexical tokens, counted the way
 * graphql's parser counts them (comments excluded). Stops lexing at `max + 1`
 * tokens. Lexical errors are left for the parser to report.
 */
function exceedsTokenLimit(query: string, max: number): boolean {
  if (max === Infinity) return false;
  const lexer = new Lexer(new Source(query));
  let count = 0;
  try {
    while (lexer.advance().kind !== TokenKind.EOF) {
      count += 1;
      if (count > max) return true;
    }
  } catch {
    return false;
  }
  return false;
}

function tokenLimitMessage(max: number): string {
  return `Query document exceeds the limit of ${max} tokens.`;
}

/** graphql-js's message when `maxLexicalTokens` aborts a parse ("more that N tokens" is its own typo). */
const TOKEN_LIMIT_MESSAGE = /Document contains more tha[nt] \d+ tokens\. Parsing aborted\./;

/**
 * Yoga plugin that enforces all the limits.
 *  - onParams: counts tokens before parsing and rejects with a 400. Yoga
 *    marks parse errors as spec errors, so a limit hit inside `parse` would
 *    reach application/json clients as a 200.
 *  - onParse: also passes the limit to graphql's parser as
 *    `maxLexicalTokens`. This covers paths that skip onParams, such as a
 *    transport calling `getEnveloped` directly.
 *  - onValidate: adds {@link operationLimitRules}.
 */
export function useOperationLimits(limits: OperationLimits, costs: Record<string, number> = {}): Plugin {
  const rules = operationLimitRules(limits, costs);
  const maxTokens = limits.maxTokens;
  return {
    onParams({ params }) {
      if (typeof params.query === 'string' && exceedsTokenLimit(params.query, maxTokens)) {
        throw limitError(tokenLimitMessage(maxTokens), 'tokens');
      }
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
          throw error;
        }
      });
    },
    onValidate({ addValidationRule }) {
      for (const rule of rules) addValidationRule(rule);
    },
  };
}
