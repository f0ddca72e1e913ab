// MemoryStore keeps the contract of the RocksDB store (src/storage/keyValueStore.ts):
// byte order, combined bounds, reverse and limit, atomic batches (delRange included),
// snapshots and scans that later writes do not change, microtask-only reads, a byte bound,
// and a close that a reopen undoes. A fast-check property runs random batches against a
// plain Map.
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StorageError } from '../../src/errors.js';
import type { ScanRange, WriteOp } from '../../src/storage/keyValueStore.js';
import { MemoryStore } from '../../src/storage/memoryStore.js';

const b = (text: string) => Buffer.from(text);
const put = (key: string | Buffer, value: string): WriteOp => ({ type: 'put', key: typeof key === 'string' ? b(key) : key, value: b(value) });

async function keysOf(iterable: AsyncIterable<{ key: Buffer }>): Promise<string[]> {
  const out: string[] = [];
  for await (const { key } of iterable) out.push(key.toString());
  return out;
}

async function filled(...keys: string[]): Promise<MemoryStore> {
  const store = new MemoryStore();
  await store.write(keys.map((key) => put(key, `${key}-value`)));
  return store;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('MemoryStore ordering and ranges', () => {
  it('scan_withoutRange_returnsKeysInUnsignedByteOrder', async () => {
    const store = new MemoryStore();
    const keys = [Buffer.from([0xff]), Buffer.from([0x00]), Buffer.from([0x80, 0x01]), Buffer.from([0x80]), Buffer.from([0x7f, 0xff]), b('a'), b('ab')];
    await store.write(keys.map((key) => put(key, 'v')));
    const scanned: Buffer[] = [];
    for await (const { key } of store.scan({})) scanned.push(key);
    expect(scanned).toEqual([...keys].sort(Buffer.compare));
    expect(scanned.map((key) => key.toString('hex'))).toEqual(['00', '61', '6162', '7fff', '80', '8001', 'ff']);
  });

  it('scan_withBothLowerOrBothUpperBounds_appliesBoth', async () => {
    const store = await filled('a', 'b', 'c', 'd');
    expect(await keysOf(store.scan({ gt: b('a'), gte: b('c') }))).toEqual(['c', 'd']);
    expect(await keysOf(store.scan({ gte: b('a'), gt: b('a') }))).toEqual(['b', 'c', 'd']);
    expect(await keysOf(store.scan({ lt: b('d'), lte: b('b') }))).toEqual(['a', 'b']);
    expect(await keysOf(store.scan({ gte: b('b'), lte: b('c') }))).toEqual(['b', 'c']);
    expect(await keysOf(store.scan({ gt: b('c'), lt: b('b') }))).toEqual([]);
  });

  it('scan_withEmptyBounds_treatsThemAsAbsentAsRocksdbNativeDoes', async () => {
    const store = await filled('a', 'b', 'c');
    expect(await keysOf(store.scan({ gte: Buffer.alloc(0), lt: b('c') }))).toEqual(['a', 'b']);
    expect(await keysOf(store.scan({ lt: Buffer.alloc(0) }))).toEqual(['a', 'b', 'c']);
  });

  it('scan_reverseWithLimit_returnsTheHighestKeysFirst', async () => {
    const store = await filled('a', 'b', 'c', 'd');
    expect(await keysOf(store.scan({ reverse: true, limit: 2 }))).toEqual(['d', 'c']);
    expect(await keysOf(store.scan({ lt: b('d'), lte: b('b'), reverse: true }))).toEqual(['b', 'a']);
    expect(await keysOf(store.scan({ gte: b('b'), limit: 1 }))).toEqual(['b']);
  });

  it('scan_withLimitZeroOrNegative_returnsNothingOrEverything', async () => {
    const store = await filled('a', 'b');
    expect(await keysOf(store.scan({ limit: 0 }))).toEqual([]);
    expect(await keysOf(store.scan({ limit: -1 }))).toEqual(['a', 'b']);
  });

  it('getMany_returnsValuesInRequestOrderWithNullForAbsentKeys', async () => {
    const store = await filled('a', 'b');
    const values = await store.getMany([b('b'), b('x'), b('a')]);
    expect(values.map((value) => value?.toString() ?? null)).toEqual(['b-value', null, 'a-value']);
    expect(await store.getMany([])).toEqual([]);
  });
});

describe('MemoryStore writes', () => {
  it('delRange_deletesFromStartInclusiveToEndExclusive', async () => {
    const store = await filled('a', 'b', 'c', 'd');
    await store.write([{ type: 'delRange', start: b('b'), end: b('d') }]);
    expect(await keysOf(store.scan({}))).toEqual(['a', 'd']);
    await store.write([{ type: 'delRange', start: b('a'), end: b('a') }]);
    expect(await keysOf(store.scan({}))).toEqual(['a', 'd']);
  });

  it('write_withDelRangeEndBeforeStart_refusesTheWholeBatch', async () => {
    const store = await filled('a', 'b');
    const batch: WriteOp[] = [put('c', 'new'), { type: 'del', key: b('a') }, { type: 'delRange', start: b('b'), end: b('a') }];
    await expect(store.write(batch)).rejects.toBeInstanceOf(StorageError);
    expect(await keysOf(store.scan({}))).toEqual(['a', 'b']);
  });

  it('write_appliesOperationsInOrder_soALaterOpSeesAnEarlierOne', async () => {
    const store = await filled('a');
    await store.write([put('b', 'one'), { type: 'del', key: b('b') }, put('c', 'one'), put('c', 'two'), { type: 'delRange', start: b('a'), end: b('b') }]);
    expect(await keysOf(store.scan({}))).toEqual(['c']);
    expect((await store.get(b('c')))?.toString()).toBe('two');
  });

  it('write_pastTheByteBound_refusesTheBatchWholeAndKeepsEarlierData', async () => {
    const store = new MemoryStore({ maxBytes: 100 });
    await store.write([put('k1', 'x'.repeat(40))]);
    const before = store.bytes;
    const refused = store.write([{ type: 'delRange', start: b('k'), end: b('l') }, put('k2', 'y'.repeat(30)), put('k3', 'z'.repeat(70))]);
    await expect(refused).rejects.toMatchObject({ name: 'StorageError', details: { maxBytes: 100 } });
    expect(store.bytes).toBe(before);
    expect((await store.get(b('k1')))?.toString()).toBe('x'.repeat(40));
    expect(await store.get(b('k2'))).toBeNull();
    // Deleting is always allowed, and frees room.
    await store.write([{ type: 'del', key: b('k1') }]);
    expect(store.bytes).toBe(0);
    await store.write([put('k3', 'z'.repeat(60))]);
    expect((await store.sizes()).liveDataBytes).toBe(62);
  });

  it('write_andRead_copyBuffers_soCallersCannotChangeStoredBytes', async () => {
    const store = new MemoryStore();
    const key = b('k');
    const value = b('value');
    await store.write([{ type: 'put', key, value }]);
    value.write('XXXXX');
    key.write('z');
    const read = (await store.get(b('k')))!;
    expect(read.toString()).toBe('value');
    read.write('YYYYY');
    expect((await store.get(b('k')))?.toString()).toBe('value');
  });
});

describe('MemoryStore snapshots and scans', () => {
  it('snapshot_afterLaterWrites_stillReadsThePointInTimeState', async () => {
    const store = await filled('a', 'b', 'c');
    const snapshot = store.snapshot();
    await store.write([put('a', 'changed'), { type: 'del', key: b('b') }, put('d', 'new'), { type: 'delRange', start: b('c'), end: b('d') }]);
    expect(await keysOf(snapshot.scan({}))).toEqual(['a', 'b', 'c']);
    expect((await snapshot.get(b('a')))?.toString()).toBe('a-value');
    expect((await snapshot.getMany([b('b'), b('d')])).map((v) => v?.toString() ?? null)).toEqual(['b-value', null]);
    expect(await keysOf(store.scan({}))).toEqual(['a', 'd']);
    await snapshot.close();
    await expect(snapshot.get(b('a'))).rejects.toBeInstanceOf(StorageError);
  });

  it('scan_whileWritesHappen_readsTheStateAsOfItsFirstStep', async () => {
    const store = await filled('a', 'b', 'c');
    const seen: string[] = [];
    for await (const { key, value } of store.scan({})) {
      seen.push(`${key.toString()}=${value.toString()}`);
      if (key.toString() === 'a') await store.write([{ type: 'del', key: b('c') }, put('b', 'changed'), put('bb', 'new')]);
    }
    expect(seen).toEqual(['a=a-value', 'b=b-value', 'c=c-value']);
    expect(await keysOf(store.scan({}))).toEqual(['a', 'b', 'bb']);
  });

  it('reads_resolveAfterTheCallReturnsThroughMicrotasksOnly', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'setImmediate'] });
    const store = await filled('a', 'b');
    let resolved = false;
    const pending = store.get(b('a')).then((value) => {
      resolved = true;
      return value;
    });
    expect(resolved).toBe(false);
    // With timers and immediates faked (never run), only microtasks can finish these.
    expect((await pending)?.toString()).toBe('a-value');
    expect(await keysOf(store.scan({ reverse: true }))).toEqual(['b', 'a']);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('MemoryStore close and reopen', () => {
  it('close_refusesReadsWritesAndRunningScans_andReopenServesTheSameData', async () => {
    const store = await filled('a', 'b', 'c');
    const iterator = store.scan({})[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.key.toString()).toBe('a');
    const closing = store.close();
    expect(store.isClosed).toBe(true);
    await closing;
    await expect(store.get(b('a'))).rejects.toBeInstanceOf(StorageError);
    await expect(store.write([put('d', 'x')])).rejects.toBeInstanceOf(StorageError);
    expect(() => store.snapshot()).toThrow(StorageError);
    store.reopen();
    await expect(iterator.next()).rejects.toBeInstanceOf(StorageError);
    expect(store.isClosed).toBe(false);
    expect(await keysOf(store.scan({}))).toEqual(['a', 'b', 'c']);
    await store.close();
    await store.close();
  });
});

// ---- property: random batches against a reference Map ---------------------------------

const key = fc.uint8Array({ minLength: 1, maxLength: 3, min: 0, max: 3 }).map((bytes) => Buffer.from(bytes));
const bound = fc.option(fc.uint8Array({ minLength: 0, maxLength: 3, min: 0, max: 3 }).map((bytes) => Buffer.from(bytes)), { nil: undefined });
const op: fc.Arbitrary<WriteOp> = fc.oneof(
  fc.record({ type: fc.constant('put' as const), key, value: fc.uint8Array({ maxLength: 4 }).map((bytes) => Buffer.from(bytes)) }),
  fc.record({ type: fc.constant('del' as const), key }),
  fc.tuple(key, key).map(([x, y]): WriteOp => (Buffer.compare(x, y) <= 0 ? { type: 'delRange', start: x, end: y } : { type: 'delRange', start: y, end: x })),
);
const range: fc.Arbitrary<ScanRange> = fc.record({ gte: bound, gt: bound, lt: bound, lte: bound, reverse: fc.boolean(), limit: fc.option(fc.integer({ min: -1, max: 6 }), { nil: undefined }) });

type Reference = Map<string, string>;

function applyReference(reference: Reference, ops: readonly WriteOp[]): void {
  for (const o of ops) {
    if (o.type === 'put') reference.set(o.key.toString('hex'), o.value.toString('hex'));
    else if (o.type === 'del') reference.delete(o.key.toString('hex'));
    else for (const k of [...reference.keys()]) if (Buffer.compare(Buffer.from(k, 'hex'), o.start) >= 0 && Buffer.compare(Buffer.from(k, 'hex'), o.end) < 0) reference.delete(k);
  }
}

function scanReference(reference: Reference, r: ScanRange): string[] {
  const set = (x: Buffer | undefined): x is Buffer => x !== undefined && x.length > 0;
  const inRange = (k: Buffer) =>
    (!set(r.gte) || Buffer.compare(k, r.gte) >= 0) && (!set(r.gt) || Buffer.compare(k, r.gt) > 0) && (!set(r.lt) || Buffer.compare(k, r.lt) < 0) && (!set(r.lte) || Buffer.compare(k, r.lte) <= 0);
  const keys = [...reference.keys()].map((k) => Buffer.from(k, 'hex')).filter(inRange).sort(Buffer.compare);
  if (r.reverse === true) keys.reverse();
  const limited = r.limit === undefined || r.limit < 0 ? keys : keys.slice(0, r.limit);
  return limited.map((k) => `${k.toString('hex')}=${reference.get(k.toString('hex'))}`);
}

async function scanStore(reader: { scan(r: ScanRange): AsyncIterable<{ key: Buffer; value: Buffer }> }, r: ScanRange): Promise<string[]> {
  const out: string[] = [];
  for await (const { key: k, value } of reader.scan(r)) out.push(`${k.toString('hex')}=${value.toString('hex')}`);
  return out;
}

describe('MemoryStore properties', () => {
  it('randomBatches_scansAndSnapshotsMatchAReferenceMap', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { maxLength: 12 }), fc.nat(12), fc.array(range, { minLength: 1, maxLength: 5 }), async (batches, snapshotAt, ranges) => {
        const store = new MemoryStore();
        const reference: Reference = new Map();
        let snapshot: { reader: ReturnType<MemoryStore['snapshot']>; state: Reference } | undefined;
        for (const [i, batch] of batches.entries()) {
          if (i === snapshotAt) snapshot = { reader: store.snapshot(), state: new Map(reference) };
          await store.write(batch);
          applyReference(reference, batch);
        }
        for (const r of ranges) expect(await scanStore(store, r)).toEqual(scanReference(reference, r));
        const everything = [...reference.keys()].map((k) => Buffer.from(k, 'hex'));
        expect((await store.getMany(everything)).map((v) => v?.toString('hex'))).toEqual(everything.map((k) => reference.get(k.toString('hex'))));
        expect(store.entryCount).toBe(reference.size);
        expect(store.bytes).toBe([...reference].reduce((sum, [k, v]) => sum + k.length / 2 + v.length / 2, 0));
        if (snapshot !== undefined) {
          for (const r of ranges) expect(await scanStore(snapshot.reader, r)).toEqual(scanReference(snapshot.state, r));
          await snapshot.reader.close();
        }
      }),
      { numRuns: 300 },
    );
  });
});
