/*
 * Measurement of one GraphQL operation for the operation limits (operationLimits.ts):
 * its depth, aliases, directives and estimated cost, with or without the request's
 * variable values.
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
 *    own(field) is `costs["Parent.field"]`, or 1 if there is no entry, plus,
 *    for a field in `wordCosts`, its cost per word times the distinct words of
 *    the text argument it names (e.g. `recall(cue: { text })`), and for a field
 *    in `itemCosts`, its cost per item times the items of the list argument it
 *    names (e.g. `rememberBatch(memories: [...])`).
 *    multiplier(field) is 1 for a field that does not return a list. For a
 *    list field it is the list-size estimate, the first integer found among:
 *      a. the field's own `first`/`last`/`limit`/`maxResults` argument, or
 *         that key inside an object argument (e.g.
 *         `recall(options: { maxResults: 5 })`), whether written literally,
 *         as a variable, inside an object literal, or as a key of an object
 *         variable (`options: $o`);
 *      b. the field's size when that argument is omitted or null, from
 *         `defaultListSizes` (the resolver's default page size);
 *      c. a or b on the nearest ancestor that has them, when no list field
 *         lies between. So `recall(options: { maxResults: 5 })
 *         { memories { ... } }` multiplies `memories` by 5;
 *      d. otherwise DEFAULT_LIST_SIZE (10).
 *    Introspection fields (`__schema`, `__type`, `__typename`) and their
 *    subtrees cost 0: they read the in-memory schema, not storage. Depth,
 *    aliases, directives, nesting and tokens still bound them.
 */
import { Kind, getNamedType, getNullableType, isCompositeType, isInterfaceType, isListType, isObjectType, valueFromASTUntyped } from 'graphql';
import type { DirectiveNode, DocumentNode, FieldNode, FragmentDefinitionNode, GraphQLCompositeType, GraphQLSchema, OperationDefinitionNode, SelectionSetNode, ValueNode } from 'graphql';

/** How a field's text argument is priced: `costPerWord` for each distinct word of the string at `argument`, a dotted path such as `cue.text`. */
export interface WordCost {
  argument: string;
  costPerWord: number;
}

/** How a field's list argument is priced: `costPerItem` for each item of the list at `argument` (a batch write). */
export interface ItemCost {
  argument: string;
  costPerItem: number;
}

/** Optional parts of the cost formula at the top of this file. */
export interface CostModel {
  /** Extra cost for the words of a text argument, by `"Type.field"`. */
  wordCosts?: Record<string, WordCost>;
  /** Extra cost for each item of a list argument, by `"Type.field"`. */
  itemCosts?: Record<string, ItemCost>;
  /** Distinct words of a text. Default: distinct whitespace-separated words, case-folded. */
  countWords?: (text: string) => number;
  /** List size of a field whose size argument is omitted or null (the resolver's default page), by `"Type.field"`. */
  defaultListSizes?: Record<string, number>;
}

/** List-size estimate for list fields without a size argument or a default. */
const DEFAULT_LIST_SIZE = 10;
/** Price of a list size given by a variable at validation, when its value is unknown: the lower bound, as the value is checked at execution. */
const VARIABLE_LIST_SIZE = 1;
/** Argument names read as a list-size hint, at top level or inside an object argument. */
const LIST_SIZE_ARGUMENTS: readonly string[] = ['first', 'last', 'limit', 'maxResults'];

export interface Measure {
  depth: number;
  aliases: number;
  cost: number;
  directives: number;
  /** Whether a variable's value entered the cost, so that validation's price is only a lower bound. */
  variableDependent: boolean;
}

function emptyMeasure(): Measure {
  return { depth: 0, aliases: 0, cost: 0, directives: 0, variableDependent: false };
}

/** Marks a value that depends on a variable whose value is not known yet (validation time). */
const UNKNOWN: unique symbol = Symbol('unknown variable value');
type Resolved = unknown | typeof UNKNOWN;

/** Variable values of one operation: the request's values at execution, none at validation. */
interface VariableScope {
  readonly values: Readonly<Record<string, unknown>> | undefined;
  readonly defaults: ReadonlyMap<string, ValueNode>;
}

export function scopeOf(operation: OperationDefinitionNode, values: Readonly<Record<string, unknown>> | undefined): VariableScope {
  const defaults = new Map<string, ValueNode>();
  for (const definition of operation.variableDefinitions ?? []) {
    if (definition.defaultValue) defaults.set(definition.variable.name.value, definition.defaultValue);
  }
  return { values, defaults };
}

function variableValue(name: string, scope: VariableScope): Resolved {
  if (scope.values === undefined) return UNKNOWN;
  if (Object.hasOwn(scope.values, name)) return scope.values[name];
  const fallback = scope.defaults.get(name);
  return fallback === undefined ? undefined : valueFromASTUntyped(fallback);
}

/** A key path into a JSON value; undefined where the path leaves it. */
function descend(value: unknown, keys: readonly string[]): unknown {
  let current = value;
  for (const key of keys) {
    if (current === null || typeof current !== 'object' || Array.isArray(current) || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function scalarLiteral(node: ValueNode): unknown {
  switch (node.kind) {
    case Kind.INT:
      return Number.parseInt(node.value, 10);
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.STRING:
      return node.value;
    case Kind.NULL:
      return null;
    default:
      return undefined;
  }
}

/**
 * The value at `path` inside an argument value, through object literals and variables
 * (`{ maxResults: $m }`, `$options`). UNKNOWN when a variable on the way has no value yet.
 */
function valueAt(node: ValueNode, path: readonly string[], scope: VariableScope): Resolved {
  let current = node;
  for (let step = 0; ; step += 1) {
    if (current.kind === Kind.VARIABLE) {
      const value = variableValue(current.name.value, scope);
      return value === UNKNOWN ? UNKNOWN : descend(value, path.slice(step));
    }
    if (step === path.length) return scalarLiteral(current);
    if (current.kind !== Kind.OBJECT) return undefined;
    const key = path[step];
    const field = current.fields.find((f) => f.name.value === key);
    if (field === undefined) return undefined;
    current = field.value;
  }
}

/** A list size from a resolved value: UNKNOWN, a non-negative integer, or undefined (omitted, null or not an integer). */
function asSize(value: Resolved): number | undefined | typeof UNKNOWN {
  if (value === UNKNOWN) return UNKNOWN;
  return typeof value === 'number' && Number.isInteger(value) ? Math.max(0, value) : undefined;
}

function defaultCountWords(text: string): number {
  return new Set(text.toLowerCase().split(/\s+/).filter(Boolean)).size;
}

/** A CostModel with its paths split and its defaults filled in, built once per plugin. */
export class ResolvedCostModel {
  readonly wordCosts: ReadonlyMap<string, { path: readonly string[]; costPerWord: number }>;
  readonly itemCosts: ReadonlyMap<string, ItemCost>;
  readonly countWords: (text: string) => number;
  readonly defaultListSizes: Readonly<Record<string, number>>;

  constructor(model: CostModel) {
    this.wordCosts = new Map(Object.entries(model.wordCosts ?? {}).map(([coordinate, rule]) => [coordinate, { path: rule.argument.split('.'), costPerWord: rule.costPerWord }]));
    this.itemCosts = new Map(Object.entries(model.itemCosts ?? {}));
    this.countWords = model.countWords ?? defaultCountWords;
    this.defaultListSizes = model.defaultListSizes ?? {};
  }
}

interface Priced {
  value: number | undefined;
  variable: boolean;
}

export class OperationMeasurer {
  /** Fragment measurements, keyed by fragment name, incoming list-size hint and introspection state. */
  private readonly fragmentCache = new Map<string, Measure>();
  private readonly inProgress = new Set<string>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>,
    private readonly costs: Record<string, number>,
    private readonly model: ResolvedCostModel,
    private readonly scope: VariableScope,
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
      total.variableDependent ||= m.variableDependent;
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
    const coordinate = parentType ? `${parentType.name}.${name}` : undefined;
    const fieldDef =
      parentType && (isObjectType(parentType) || isInterfaceType(parentType))
        ? parentType.getFields()[name]
        : undefined;
    const nullableType = fieldDef ? getNullableType(fieldDef.type) : undefined;
    const isList = nullableType !== undefined && isListType(nullableType);
    const namedType = fieldDef ? getNamedType(fieldDef.type) : undefined;
    const childType = namedType && isCompositeType(namedType) ? namedType : undefined;

    const own = this.listSize(node, coordinate);
    const hint = own.value ?? inheritedHint;
    const multiplier = isList ? (hint ?? DEFAULT_LIST_SIZE) : 1;
    // A list uses up the hint. A non-list wrapper such as RecallResult passes it on.
    const childHint = isList ? undefined : hint;

    const children = node.selectionSet
      ? this.selectionSet(node.selectionSet, childType, inIntrospection, childHint)
      : emptyMeasure();

    const words = inIntrospection || coordinate === undefined ? { value: 0, variable: false } : this.wordCost(node, coordinate);
    const items = inIntrospection || coordinate === undefined ? { value: 0, variable: false } : this.itemCost(node, coordinate);
    const ownCost = (coordinate === undefined ? undefined : this.costs[coordinate]) ?? 1;
    const addsDepth = !(inIntrospection && name === 'ofType');
    return {
      depth: children.depth + (addsDepth ? 1 : 0),
      aliases: children.aliases + (node.alias ? 1 : 0),
      cost: inIntrospection ? 0 : ownCost + (words.value ?? 0) + (items.value ?? 0) + multiplier * children.cost,
      directives: children.directives + countDirectives(node.directives),
      variableDependent: !inIntrospection && (own.variable || words.variable || items.variable || children.variableDependent),
    };
  }

  /** The list size a field's own arguments ask for, else its default size (rules a and b). */
  private listSize(node: FieldNode, coordinate: string | undefined): Priced {
    const args = node.arguments ?? [];
    const candidates: [ValueNode, readonly string[]][] = [];
    for (const arg of args) if (LIST_SIZE_ARGUMENTS.includes(arg.name.value)) candidates.push([arg.value, []]);
    for (const arg of args) {
      if (LIST_SIZE_ARGUMENTS.includes(arg.name.value)) continue;
      if (arg.value.kind !== Kind.OBJECT && arg.value.kind !== Kind.VARIABLE) continue;
      for (const key of LIST_SIZE_ARGUMENTS) candidates.push([arg.value, [key]]);
    }
    for (const [value, path] of candidates) {
      const size = asSize(valueAt(value, path, this.scope));
      if (size === UNKNOWN) return { value: VARIABLE_LIST_SIZE, variable: true };
      if (size !== undefined) return { value: size, variable: false };
    }
    return { value: coordinate === undefined ? undefined : this.model.defaultListSizes[coordinate], variable: false };
  }

  /** Cost of the distinct words of the field's priced text argument; a text in an unknown variable costs 0 until execution. */
  private wordCost(node: FieldNode, coordinate: string): Priced {
    const rule = this.model.wordCosts.get(coordinate);
    if (rule === undefined) return { value: 0, variable: false };
    const [argument, ...path] = rule.path;
    const arg = node.arguments?.find((a) => a.name.value === argument);
    if (arg === undefined) return { value: 0, variable: false };
    const text = valueAt(arg.value, path, this.scope);
    if (text === UNKNOWN) return { value: 0, variable: true };
    return { value: typeof text === 'string' ? rule.costPerWord * this.model.countWords(text) : 0, variable: false };
  }

  /** Cost of the items of the field's priced list argument; a list in an unknown variable costs 0 until execution. */
  private itemCost(node: FieldNode, coordinate: string): Priced {
    const rule = this.model.itemCosts.get(coordinate);
    if (rule === undefined) return { value: 0, variable: false };
    const arg = node.arguments?.find((a) => a.name.value === rule.argument);
    if (arg === undefined) return { value: 0, variable: false };
    if (arg.value.kind === Kind.LIST) return { value: rule.costPerItem * arg.value.values.length, variable: false };
    const list = valueAt(arg.value, [], this.scope);
    if (list === UNKNOWN) return { value: 0, variable: true };
    return { value: Array.isArray(list) ? rule.costPerItem * list.length : 0, variable: false };
  }

  private fragment(name: string, inIntrospection: boolean, hint: number | undefined): Measure {
    const definition = this.fragments.get(name);
    // Unknown fragment (KnownFragmentNames reports it) or a cycle (NoFragmentCycles reports it).
    if (!definition || this.inProgress.has(name)) return emptyMeasure();
    // The measurement depends on the incoming hint and introspection state,
    // so both are part of the key. The number of distinct keys is bounded by
    // the sizes in the document, so the memo stays small and repeated
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

export function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION && !fragments.has(definition.name.value)) {
      fragments.set(definition.name.value, definition);
    }
  }
  return fragments;
}
