import { describe, expect, it } from 'vitest';
import { keys, logKeySeq, prefixEnd, prefixRange, suffixAfter, timeKeyId, timeKeyMs, timeKeyPart, u16, u64 } from '../../src/storage/keys.js';
import type { PrefixRange } from '../../src/storage/keys.js';

function inRange(key: Buffer, range: PrefixRange): boolean {
  return Buffer.compare(key, range.gte) >= 0 && Buffer.compare(key, range.lt) < 0;
}

/** Every key a space can own, for a given space id. */
function keysOf(space: string): Buffer[] {
  return [
    keys.memory(space, 'id1'),
    keys.embedding(space, 'id1'),
    keys.association(space, 'id1', 'id2'),
    keys.tag(space, 'tag', 'id1'),
    keys.time(space, 0, 'id1'),
    keys.time(space, -1, 'id1'),
    keys.term(space, 'term', 'id1'),
    keys.kindEntry(space, 'EPISODE', 'id1'),
    keys.logEntry(space, 0, 1),
    keys.logEntry(space, 65535, 2 ** 53 - 1),
  ];
}

/** The per-space prefixes that are scanned as ranges. */
function prefixesOf(space: string): Buffer[] {
  return [
    keys.memories(space),
    keys.embeddings(space),
    keys.associationsFrom(space, 'id1'),
    keys.tagged(space, 'tag'),
    keys.times(space),
    keys.kind(space, 'EPISODE'),
    keys.termPostings(space, 'term'),
    keys.log(space, 0),
    keys.log(space, 65535),
  ];
}

describe('space key isolation', () => {
  it('keys_whenOneSpaceIdPrefixesAnother_neverFallInsideTheOtherSpacesRanges', () => {
    const spaces = ['abc', 'abcd', 'abc-', 'abc_', 'ab0', 'abc0'];
    for (const owner of spaces) {
      for (const other of spaces) {
        if (owner === other) continue;
        for (const prefix of prefixesOf(owner)) {
          const range = prefixRange(prefix);
          for (const key of keysOf(other)) {
            expect(inRange(key, range), `${other} key ${key.toString('hex')} in ${owner} range`).toBe(false);
          }
        }
      }
    }
  });

  it('keys_whenBelongingToTheSpace_fallInsideItsRanges', () => {
    const space = 'abc';
    expect(inRange(keys.memory(space, 'id1'), prefixRange(keys.memories(space)))).toBe(true);
    expect(inRange(keys.embedding(space, 'id1'), prefixRange(keys.embeddings(space)))).toBe(true);
    expect(inRange(keys.association(space, 'id1', 'id2'), prefixRange(keys.associationsFrom(space, 'id1')))).toBe(true);
    expect(inRange(keys.tag(space, 'tag', 'id1'), prefixRange(keys.tagged(space, 'tag')))).toBe(true);
    expect(inRange(keys.time(space, -5, 'id1'), prefixRange(keys.times(space)))).toBe(true);
    expect(inRange(keys.term(space, 'term', 'id1'), prefixRange(keys.termPostings(space, 'term')))).toBe(true);
    expect(inRange(keys.kindEntry(space, 'EPISODE', 'id1'), prefixRange(keys.kind(space, 'EPISODE')))).toBe(true);
    expect(inRange(keys.logEntry(space, 3, 7), prefixRange(keys.log(space, 3)))).toBe(true);
  });

  it('keys_whenOneTagOrTermPrefixesAnother_keepsTheirPostingsApart', () => {
    expect(inRange(keys.tag('abc', 'work', 'id'), prefixRange(keys.tagged('abc', 'wor')))).toBe(false);
    expect(inRange(keys.term('abc', 'cats', 'id'), prefixRange(keys.termPostings('abc', 'cat')))).toBe(false);
    expect(inRange(keys.association('abc', 'm10', 'x'), prefixRange(keys.associationsFrom('abc', 'm1')))).toBe(false);
  });

  it('keys_whenShardsDiffer_keepLogsApart', () => {
    expect(inRange(keys.logEntry('abc', 1, 5), prefixRange(keys.log('abc', 0)))).toBe(false);
    expect(inRange(keys.logEntry('abc', 256, 5), prefixRange(keys.log('abc', 1)))).toBe(false);
  });

  it('allSpaces_whenScanned_coversSpaceDefinitionsOnly', () => {
    const range = keys.allSpaces();
    expect(inRange(keys.space('abc'), range)).toBe(true);
    expect(inRange(keys.space('zzz-999'), range)).toBe(true);
    expect(inRange(keys.spaceState('abc'), range)).toBe(false);
    expect(inRange(keys.memory('abc', 'x'), range)).toBe(false);
    expect(inRange(keys.nodeMeta('node-id'), range)).toBe(false);
  });
});

describe('prefixEnd', () => {
  it('prefixEnd_whenLastByteBelowFF_incrementsIt', () => {
    expect(prefixEnd(Buffer.from([0x41, 0x42]))).toEqual(Buffer.from([0x41, 0x43]));
    expect(prefixEnd(Buffer.from([0x41, 0x00]))).toEqual(Buffer.from([0x41, 0x01]));
  });

  it('prefixEnd_whenTrailingBytesAreFF_dropsThemAndIncrementsTheLastOtherByte', () => {
    expect(prefixEnd(Buffer.from([0x41, 0xff]))).toEqual(Buffer.from([0x42]));
    expect(prefixEnd(Buffer.from([0x41, 0x10, 0xff, 0xff]))).toEqual(Buffer.from([0x41, 0x11]));
  });

  it('prefixEnd_whenCalled_doesNotModifyItsInput', () => {
    const prefix = Buffer.from([0x41, 0x42, 0xff]);
    prefixEnd(prefix);
    expect(prefix).toEqual(Buffer.from([0x41, 0x42, 0xff]));
  });

  it('prefixEnd_forRealPrefixes_boundsEveryKeyWithThePrefixAndNothingAfter', () => {
    const prefix = keys.memories('abc');
    const end = prefixEnd(prefix);
    expect(Buffer.compare(end, prefix)).toBeGreaterThan(0);
    for (const suffix of ['', 'a', '\u00ff\u00ff', 'zzzzzzzz', '\u{10FFFF}']) {
      expect(Buffer.compare(Buffer.concat([prefix, Buffer.from(suffix)]), end)).toBeLessThan(0);
    }
    expect(Buffer.concat([prefix, Buffer.from([0xff, 0xff, 0xff])]).compare(end)).toBeLessThan(0);
    // The very next prefix of the same length is outside.
    expect(Buffer.compare(end, Buffer.concat([prefix.subarray(0, prefix.length - 1), Buffer.from([1])]))).toBeLessThanOrEqual(0);
  });
});

describe('timeKeyPart', () => {
  it('timeKeyPart_whenTimesSpanBefore1970AndAfter_sortsBytewiseLikeNumbers', () => {
    const times = [-62_135_596_800_000, -86_400_000, -1, 0, 1, 255, 256, 86_400_000, 1_700_000_000_000, 253_402_300_799_999];
    const shuffled = [times[4]!, times[0]!, times[9]!, times[2]!, times[7]!, times[1]!, times[5]!, times[3]!, times[8]!, times[6]!];
    const sorted = shuffled.map((t) => ({ t, key: timeKeyPart(t) })).sort((a, b) => Buffer.compare(a.key, b.key)).map((x) => x.t);
    expect(sorted).toEqual(times);
  });

  it('timeKeyPart_whenBuiltIntoTimeKeys_ordersKeysByTime', () => {
    const a = keys.time('abc', -1000, 'zzz');
    const b = keys.time('abc', 1000, 'aaa');
    expect(Buffer.compare(a, b)).toBeLessThan(0);
  });

  it('timeKeyPart_whenFractionalMs_truncatesTowardZero', () => {
    expect(timeKeyPart(1.9)).toEqual(timeKeyPart(1));
    expect(timeKeyPart(-1.9)).toEqual(timeKeyPart(-1));
  });

  it('timeKeyPart_always_isEightBytes', () => {
    expect(timeKeyPart(-62_135_596_800_000)).toHaveLength(8);
    expect(timeKeyPart(253_402_300_799_999)).toHaveLength(8);
  });
});

describe('time key decoding', () => {
  it('timeKeyMs_whenKeyBuiltWithTime_returnsThatTime', () => {
    const prefixLength = keys.times('abc').length;
    for (const ms of [-62_135_596_800_000, -1, 0, 1, 1_700_000_000_000, 253_402_300_799_999]) {
      expect(timeKeyMs(keys.time('abc', ms, 'memory-1'), prefixLength)).toBe(ms);
    }
  });

  it('timeKeyId_whenKeyBuiltWithId_returnsThatId', () => {
    const prefixLength = keys.times('abc').length;
    expect(timeKeyId(keys.time('abc', 12345, 'mémoire-東京'), prefixLength)).toBe('mémoire-東京');
  });

  it('timeBound_whenUsedAsInclusiveRange_includesBothEndsAndNothingOutside', () => {
    const range = { gte: keys.timeBound('abc', 100), lt: prefixEnd(keys.timeBound('abc', 200)) };
    expect(inRange(keys.time('abc', 100, 'a'), range)).toBe(true);
    expect(inRange(keys.time('abc', 200, 'zzzz'), range)).toBe(true);
    expect(inRange(keys.time('abc', 99, 'zzzz'), range)).toBe(false);
    expect(inRange(keys.time('abc', 201, 'a'), range)).toBe(false);
    // 255 -> 256 carries across a byte; the bound must still be inclusive of 255 only.
    const carry = { gte: keys.timeBound('abc', 0), lt: prefixEnd(keys.timeBound('abc', 255)) };
    expect(inRange(keys.time('abc', 255, 'z'), carry)).toBe(true);
    expect(inRange(keys.time('abc', 256, 'a'), carry)).toBe(false);
  });
});

describe('log keys', () => {
  it('logKeySeq_whenKeyBuiltWithSeq_returnsThatSeq', () => {
    for (const seq of [0, 1, 255, 256, 65_536, 2 ** 32, 2 ** 53 - 1]) {
      expect(logKeySeq(keys.logEntry('abc', 7, seq))).toBe(seq);
    }
  });

  it('logEntry_whenSeqsIncrease_sortsBytewiseInSeqOrder', () => {
    const seqs = [0, 1, 255, 256, 65_535, 65_536, 2 ** 32, 2 ** 53 - 1];
    for (let i = 1; i < seqs.length; i++) {
      expect(Buffer.compare(keys.logEntry('abc', 1, seqs[i - 1]!), keys.logEntry('abc', 1, seqs[i]!))).toBeLessThan(0);
    }
  });

  it('u64AndU16_whenEncoding_useBigEndian', () => {
    expect(u64(258)).toEqual(Buffer.from([0, 0, 0, 0, 0, 0, 1, 2]));
    expect(u16(258)).toEqual(Buffer.from([1, 2]));
  });
});

describe('suffixAfter', () => {
  it('suffixAfter_whenGivenPrefixLength_returnsTheId', () => {
    const prefix = keys.memories('abc');
    expect(suffixAfter(keys.memory('abc', 'id-ü'), prefix.length)).toBe('id-ü');
  });
});
