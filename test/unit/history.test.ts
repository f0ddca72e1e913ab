// The history recorder: invocation and completion, its bound, and its JSONL form.
import { describe, expect, it } from 'vitest';
import { History, type Invocation } from '../../cluster/check/history.js';
import { HistoryFormatError } from '../../cluster/check/historyCodec.js';

const invocation = (fields: Partial<Invocation> = {}): Invocation => ({
  process: 'p0',
  op: 'write',
  space: 's',
  memoryId: 'm1',
  node: 'n1',
  invokeMs: 100,
  value: 'v1',
  consistency: 'QUORUM',
  ...fields,
});

function sampleHistory(): History {
  const history = new History();
  const first = history.invoke(invocation());
  const second = history.invoke(invocation({ process: 'p1', op: 'read', value: undefined, consistency: undefined, invokeMs: 105 }));
  history.complete(second, 'ok', { completeMs: 120, value: null, version: null });
  history.complete(first, 'ok', { completeMs: 130, version: { n1: 1 }, copiesAtAck: 2, promisedCopies: 2 });
  history.invoke(invocation({ process: 'p2', value: 'v2', invokeMs: 140 }));
  return history;
}

describe('History', () => {
  it('complete_whenAnswersArriveOutOfOrder_keepsOperationsInInvocationOrder', () => {
    const ops = sampleHistory().ops;
    expect(ops.map((op) => op.opId)).toEqual([0, 1, 2]);
    expect(ops[0]).toMatchObject({ outcome: 'ok', value: 'v1', version: { n1: 1 }, completeMs: 130, copiesAtAck: 2, promisedCopies: 2 });
    expect(ops[1]).toMatchObject({ op: 'read', outcome: 'ok', value: null, completeMs: 120 });
    expect(ops[1]).not.toHaveProperty('consistency');
  });

  it('invoke_withoutComplete_leavesTheOperationIndeterminate', () => {
    const history = sampleHistory();
    expect(history.ops[2]).toMatchObject({ outcome: 'info', version: null, completeMs: 140 });
    expect(history.pendingOps).toBe(1);
  });

  it('complete_whenCalledTwiceOrForAnUnknownOp_crashes', () => {
    const history = new History();
    const opId = history.invoke(invocation());
    history.complete(opId, 'fail', { completeMs: 200 });
    expect(() => history.complete(opId, 'ok', { completeMs: 300 })).toThrow(/already completed/);
    expect(() => history.complete(99, 'ok', { completeMs: 300 })).toThrow(/unknown/);
  });

  it('complete_beforeTheInvocationTime_crashes', () => {
    const history = new History();
    const opId = history.invoke(invocation({ invokeMs: 500 }));
    expect(() => history.complete(opId, 'ok', { completeMs: 499 })).toThrow(/before it was invoked/);
  });

  it('invoke_beyondTheBound_dropsAndCountsTheOperation_andIgnoresItsCompletion', () => {
    const history = new History(2);
    const kept = [history.invoke(invocation()), history.invoke(invocation())];
    const dropped = history.invoke(invocation());
    history.complete(dropped, 'ok', { completeMs: 200 });
    history.complete(kept[0]!, 'ok', { completeMs: 200 });
    expect(history.ops).toHaveLength(2);
    expect(history.droppedOps).toBe(1);
    expect(new Set([...kept, dropped]).size).toBe(3);
  });
});

describe('History JSONL', () => {
  it('toJsonl_thenFromJsonl_roundTripsEveryOperationAndTheDropCount', () => {
    const history = new History(2);
    history.invoke(invocation());
    history.invoke(invocation({ op: 'delete', value: null }));
    history.invoke(invocation());
    const restored = History.fromJsonl(history.toJsonl(), 2);
    expect(restored.ops).toEqual(history.ops);
    expect(restored.droppedOps).toBe(1);
    expect(restored.toJsonl()).toBe(history.toJsonl());
  });

  it('toJsonl_writesAVersionedHeaderAndOneOperationPerLine', () => {
    const lines = sampleHistory().toJsonl().trimEnd().split('\n');
    expect(JSON.parse(lines[0]!)).toEqual({ format: 'engram-history', version: 1, droppedOps: 0 });
    expect(lines).toHaveLength(4);
  });

  it('fromJsonl_afterARoundTrip_numbersNewOperationsAfterTheLast', () => {
    const restored = History.fromJsonl(sampleHistory().toJsonl());
    expect(restored.invoke(invocation())).toBe(3);
  });

  it('fromJsonl_skipsBlankLinesAndCarriageReturns_butCountsThemInLineNumbers', () => {
    const [header, ...ops] = sampleHistory().toJsonl().trimEnd().split('\n');
    const text = [header, '', ...ops.map((line) => `${line}\r`), '{'].join('\n');
    expect(() => History.fromJsonl(text)).toThrow('history line 6: not valid JSON');
    expect(History.fromJsonl([header, '', ...ops, ''].join('\n')).ops).toHaveLength(3);
  });

  const header = JSON.stringify({ format: 'engram-history', version: 1, droppedOps: 0 });
  const good = JSON.parse(sampleHistory().toJsonl().split('\n')[1]!) as Record<string, unknown>;
  const malformed: Array<[string, unknown, RegExp]> = [
    ['not JSON', '{"opId": 1,', /line 2: not valid JSON/],
    ['an array', [1, 2], /line 2: expected a JSON object/],
    ['a missing field', { ...good, node: undefined }, /line 2: missing field "node"/],
    ['an unknown field', { ...good, extra: 1 }, /line 2: unknown field "extra"/],
    ['an unknown operation', { ...good, op: 'upsert' }, /line 2: field "op" must be/],
    ['a fractional opId', { ...good, opId: 1.5 }, /line 2: field "opId" must be a non-negative integer/],
    ['a clock with a negative counter', { ...good, version: { n1: -1 } }, /line 2: field "version" must be a vector clock/],
    ['an unknown write concern', { ...good, consistency: 'SOME' }, /line 2: field "consistency"/],
    ['a completion before the invocation', { ...good, invokeMs: 500, completeMs: 400 }, /line 2: completeMs is before invokeMs/],
  ];
  it.each(malformed)('fromJsonl_whenALineHolds %s_rejectsItNamingTheLine', (_label, line, message) => {
    const text = `${header}\n${typeof line === 'string' ? line : JSON.stringify(line)}\n`;
    expect(() => History.fromJsonl(text)).toThrow(HistoryFormatError);
    expect(() => History.fromJsonl(text)).toThrow(message);
  });

  it('fromJsonl_whenTheHeaderIsMissingOrOfAnotherVersion_rejects', () => {
    const op = JSON.stringify(good);
    expect(() => History.fromJsonl(`${op}\n`)).toThrow(/line 1: expected a header/);
    expect(() => History.fromJsonl('')).toThrow(/line 1: missing header line/);
    const future = JSON.stringify({ format: 'engram-history', version: 2, droppedOps: 0 });
    expect(() => History.fromJsonl(`${future}\n${op}`)).toThrow(/line 1: unsupported version 2/);
  });

  it('fromJsonl_whenAnOpIdRepeats_rejectsTheSecond', () => {
    const op = JSON.stringify(good);
    expect(() => History.fromJsonl(`${header}\n${op}\n${op}\n`)).toThrow(/line 3: opId 0 appears twice/);
  });

  it('fromJsonl_beyondTheBound_rejects', () => {
    expect(() => History.fromJsonl(sampleHistory().toJsonl(), 2)).toThrow(/line 4: more than 2 operations/);
  });

  it('fromJsonl_keepsTheCauseOfAJsonError', () => {
    const error = (() => {
      try {
        History.fromJsonl(`${header}\n{`);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(HistoryFormatError);
    expect((error as HistoryFormatError).lineNumber).toBe(2);
    expect((error as HistoryFormatError).cause).toBeInstanceOf(SyntaxError);
  });
});
