// JSONL for histories: one header line, then one operation per line in invocation order.
// Line-oriented so a chaos run's history can be read with grep and jq, diffed between two
// seeds, and cut at any line without corrupting the rest. The header carries a format
// name and version (wire formats are versioned and only ever grow) and the count of
// dropped operations, because a truncated history must stay marked as truncated when it
// is checked later. Every line is validated field by field on parse and unknown fields
// are refused: a history that is wrong in a small way would give a wrong verdict quietly,
// so the parser names the first bad line instead. Pure string in, string out; the caller
// does the file I/O.

import type { HistoryOp, HistoryView } from './history.js';

export const HISTORY_FORMAT = 'engram-history';
export const HISTORY_FORMAT_VERSION = 1;

/** A history text that cannot be parsed; `lineNumber` counts from 1. */
export class HistoryFormatError extends Error {
  override readonly name = 'HistoryFormatError';

  constructor(readonly lineNumber: number, reason: string, options: { cause?: unknown } = {}) {
    super(`history line ${lineNumber}: ${reason}`, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

export function serialiseHistory(history: HistoryView): string {
  const header = JSON.stringify({ format: HISTORY_FORMAT, version: HISTORY_FORMAT_VERSION, droppedOps: history.droppedOps });
  const lines = [header];
  for (const op of history.ops) lines.push(JSON.stringify(op));
  return lines.join('\n') + '\n';
}

/** Parses serialiseHistory's output; blank lines are skipped, line numbers stay those of the text. */
export function parseHistory(text: string, maxOps: number): { ops: HistoryOp[]; droppedOps: number } {
  const lines = text.split('\n');
  const ops: HistoryOp[] = [];
  const seen = new Set<number>();
  let droppedOps: number | undefined;
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const lineNumber = index + 1;
    const value = parseJson(line, lineNumber);
    if (droppedOps === undefined) {
      droppedOps = parseHeader(value, lineNumber);
      continue;
    }
    const op = parseOp(value, lineNumber);
    if (seen.has(op.opId)) throw new HistoryFormatError(lineNumber, `opId ${op.opId} appears twice`);
    if (ops.length >= maxOps) throw new HistoryFormatError(lineNumber, `more than ${maxOps} operations`);
    seen.add(op.opId);
    ops.push(op);
  }
  if (droppedOps === undefined) throw new HistoryFormatError(1, 'missing header line');
  return { ops, droppedOps };
}

function parseJson(line: string, lineNumber: number): unknown {
  try {
    return JSON.parse(line);
  } catch (cause) {
    throw new HistoryFormatError(lineNumber, 'not valid JSON', { cause });
  }
}

function parseHeader(value: unknown, lineNumber: number): number {
  if (!isRecord(value) || value['format'] !== HISTORY_FORMAT) {
    throw new HistoryFormatError(lineNumber, `expected a header with format "${HISTORY_FORMAT}"`);
  }
  if (value['version'] !== HISTORY_FORMAT_VERSION) {
    throw new HistoryFormatError(lineNumber, `unsupported version ${JSON.stringify(value['version'])}, expected ${HISTORY_FORMAT_VERSION}`);
  }
  if (!isCount(value['droppedOps'])) throw new HistoryFormatError(lineNumber, 'droppedOps must be a non-negative integer');
  return value['droppedOps'];
}

interface FieldRule {
  required: boolean;
  valid: (value: unknown) => boolean;
  expected: string;
}

const required = (valid: FieldRule['valid'], expected: string): FieldRule => ({ required: true, valid, expected });
const optional = (valid: FieldRule['valid'], expected: string): FieldRule => ({ required: false, valid, expected });
const oneOf = (...choices: string[]) => (value: unknown) => typeof value === 'string' && choices.includes(value);
const isString = (value: unknown): value is string => typeof value === 'string';
const isTime = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** Every field an operation line may hold; the compiler keeps it in step with HistoryOp. */
const OP_FIELDS: Record<keyof HistoryOp, FieldRule> = {
  opId: required(isCount, 'a non-negative integer'),
  process: required(isString, 'a string'),
  op: required(oneOf('write', 'read', 'delete', 'recall'), '"write", "read", "delete" or "recall"'),
  space: required(isString, 'a string'),
  memoryId: required(isString, 'a string'),
  value: required((v) => v === null || isString(v), 'a string or null'),
  version: required((v) => v === null || isClock(v), 'a vector clock or null'),
  consistency: optional(oneOf('ONE', 'QUORUM', 'ALL'), '"ONE", "QUORUM" or "ALL"'),
  node: required(isString, 'a string'),
  invokeMs: required(isTime, 'a finite number'),
  completeMs: required(isTime, 'a finite number'),
  outcome: required(oneOf('ok', 'fail', 'info'), '"ok", "fail" or "info"'),
  copiesAtAck: optional(isCount, 'a non-negative integer'),
  promisedCopies: optional(isCount, 'a non-negative integer'),
  recall: optional(isRecallObservation, 'a recall observation (cluster/check/history.ts)'),
};

function parseOp(value: unknown, lineNumber: number): HistoryOp {
  if (!isRecord(value)) throw new HistoryFormatError(lineNumber, 'expected a JSON object');
  const problem = fieldProblem(value);
  if (problem !== undefined) throw new HistoryFormatError(lineNumber, problem);
  const op = value as unknown as HistoryOp;
  if (op.completeMs < op.invokeMs) throw new HistoryFormatError(lineNumber, 'completeMs is before invokeMs');
  return op;
}

/** The first thing wrong with an operation object's fields, or undefined. */
function fieldProblem(value: Record<string, unknown>): string | undefined {
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(OP_FIELDS, key)) return `unknown field "${key}"`;
  }
  for (const [key, rule] of Object.entries(OP_FIELDS)) {
    if (!Object.hasOwn(value, key)) {
      if (rule.required) return `missing field "${key}"`;
      continue;
    }
    if (!rule.valid(value[key])) return `field "${key}" must be ${rule.expected}`;
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isClock(value: unknown): boolean {
  return isRecord(value) && Object.values(value).every(isCount);
}

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

function isInterval(value: unknown): boolean {
  return isRecord(value) && isNumber(value['point']) && isNumber(value['lower']) && isNumber(value['upper']) && Object.keys(value).length === 3;
}

const RECALL_FIELDS: Record<string, (value: unknown) => boolean> = {
  mode: oneOf('SIMILARITY', 'HYBRID', 'SPREADING'),
  shards: isCount,
  partial: (v) => typeof v === 'boolean',
  missingShards: (v) => Array.isArray(v) && v.every(isCount),
  shardsAsked: isCount,
  shardsAnswered: (v) => typeof v === 'number' && Number.isSafeInteger(v),
  missingPenalty: isNumber,
  partitionState: oneOf('CONNECTED', 'PARTITIONED', 'HEALING'),
  partitionFactor: isNumber,
  partitioned: (v) => typeof v === 'boolean',
  reachableFraction: isNumber,
  confidence: isInterval,
  memories: (v) => Array.isArray(v) && v.every((m) => isRecord(m) && isString(m['id']) && isInterval(m['confidence']) && Object.keys(m).length === 2),
};

const OPTIONAL_RECALL_FIELDS: Record<string, (value: unknown) => boolean> = {
  cueWriteOpId: isCount,
  downShards: (v) => Array.isArray(v) && v.every(isCount),
};

function isRecallObservation(value: unknown): boolean {
  if (!isRecord(value)) return false;
  for (const key of Object.keys(value)) if (!Object.hasOwn(RECALL_FIELDS, key) && !Object.hasOwn(OPTIONAL_RECALL_FIELDS, key)) return false;
  for (const [key, valid] of Object.entries(OPTIONAL_RECALL_FIELDS)) if (Object.hasOwn(value, key) && !valid(value[key])) return false;
  return Object.entries(RECALL_FIELDS).every(([key, valid]) => Object.hasOwn(value, key) && valid(value[key]));
}
