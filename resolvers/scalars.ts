// Custom scalars. DateTime travels as ISO 8601 text and is epoch milliseconds inside the
// engine; JSON passes any JSON value through.

import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';

function badInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

// Full date, optional time with optional fraction and zone: what Date.parse reads reliably.
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

function parseDateTime(value: unknown): number {
  if (typeof value !== 'string' || !ISO_DATE.test(value)) throw badInput(`DateTime must be an ISO 8601 string such as 2026-11-25T10:00:00Z`);
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw badInput(`"${value.slice(0, 40)}" is not a valid date`);
  return ms;
}

export const DateTime = new GraphQLScalarType({
  name: 'DateTime',
  serialize(value) {
    const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Number.NaN;
    if (!Number.isFinite(ms)) throw new GraphQLError('DateTime cannot represent this value');
    return new Date(ms).toISOString();
  },
  parseValue: parseDateTime,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw badInput('DateTime must be a string');
    return parseDateTime(ast.value);
  },
});

function literalToJson(ast: ValueNode, variables: Record<string, unknown> | null | undefined): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map((v) => literalToJson(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literalToJson(f.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[ast.name.value];
    default:
      throw badInput('Unsupported JSON literal');
  }
}

export const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: literalToJson,
});
