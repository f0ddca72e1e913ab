import { describe, expect, it } from 'vitest';
import { defaultLimitSettings } from '../../src/config.js';
import type { LimitSettings } from '../../src/config.js';
import {
  SPACE_ID_PATTERN,
  validateContent,
  validateCount,
  validateEmbedding,
  validateMemoryId,
  validateMetadata,
  validateSpaceId,
  validateTags,
  validateTime,
  validateUnit,
} from '../../src/engine/validation.js';
import { expectBadInput } from '../support/expectBadInput.js';

const badInput = expectBadInput;

const limits: LimitSettings = { ...defaultLimitSettings };

describe('validateSpaceId', () => {
  it('validateSpaceId_whenThreeOrSixtyFourAllowedCharacters_acceptsIt', () => {
    expect(validateSpaceId('abc')).toBe('abc');
    expect(validateSpaceId('a'.repeat(64))).toBe('a'.repeat(64));
    expect(validateSpaceId('a-b_9')).toBe('a-b_9');
    expect(validateSpaceId('---')).toBe('---');
  });

  it('validateSpaceId_whenTwoOrSixtyFiveCharacters_rejectsIt', () => {
    expect(badInput(() => validateSpaceId('ab')).details).toEqual({ field: 'space' });
    badInput(() => validateSpaceId('a'.repeat(65)));
    badInput(() => validateSpaceId(''));
  });

  it('validateSpaceId_whenUppercaseOrOtherCharacters_rejectsIt', () => {
    for (const id of ['Abc', 'abC', 'ab c', 'ab.c', 'ab/c', 'abc\n', '\nabc', 'abc\0', 'ábc']) {
      badInput(() => validateSpaceId(id));
    }
  });

  it('validateSpaceId_whenIdIsVeryLong_truncatesItInTheMessage', () => {
    const err = badInput(() => validateSpaceId('X'.repeat(500)));
    expect(err.message).toContain('X'.repeat(80));
    expect(err.message).not.toContain('X'.repeat(81));
  });

  it('SPACE_ID_PATTERN_whenTested_matchesTheDocumentedShape', () => {
    expect(SPACE_ID_PATTERN.source).toBe('^[a-z0-9_-]{3,64}$');
  });
});

describe('validateMemoryId', () => {
  it('validateMemoryId_whenPrintableWithoutSpaces_acceptsIt', () => {
    expect(validateMemoryId('mem-1:ü/東京', limits)).toBe('mem-1:ü/東京');
    expect(validateMemoryId('x'.repeat(limits.maxIdLength), limits)).toBe('x'.repeat(limits.maxIdLength));
  });

  it('validateMemoryId_whenEmptyTooLongOrWithSpacesOrControls_rejectsIt', () => {
    for (const id of ['', 'x'.repeat(limits.maxIdLength + 1), 'a b', 'a\tb', 'a\0b', 'a\nb', 'a\u0085b']) {
      expect(badInput(() => validateMemoryId(id, limits)).details).toEqual({ field: 'id' });
    }
  });
});

describe('validateEmbedding', () => {
  it('validateEmbedding_whenLengthMatchesDimension_returnsFloat32Copy', () => {
    const vector = validateEmbedding('embedding', [0.5, -0.25, 1], 3);
    expect(vector).toBeInstanceOf(Float32Array);
    expect([...vector]).toEqual([0.5, -0.25, 1]);
  });

  it('validateEmbedding_whenLengthDiffersFromDimension_rejectsWithBothLengths', () => {
    const err = badInput(() => validateEmbedding('embedding', [1, 2], 3));
    expect(err.details).toEqual({ field: 'embedding', expected: 3, actual: 2 });
    expect(err.message).toContain('embedding');
    badInput(() => validateEmbedding('embedding', [1, 2, 3, 4], 3));
  });

  it('validateEmbedding_whenValueIsNotFinite_rejectsNamingTheIndex', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const err = badInput(() => validateEmbedding('cue.embedding', [1, bad, 0], 3));
      expect(err.message).toContain('cue.embedding[1]');
    }
  });

  it('validateEmbedding_whenValueOverflowsFloat32_rejectsIt', () => {
    badInput(() => validateEmbedding('embedding', [1e39, 0], 2));
    badInput(() => validateEmbedding('embedding', [-1e39, 0], 2));
  });

  it('validateEmbedding_whenValueIsNotANumber_rejectsIt', () => {
    badInput(() => validateEmbedding('embedding', [1, '2' as unknown as number], 2));
  });

  it('validateEmbedding_whenAllZeros_rejectsIt', () => {
    expect(badInput(() => validateEmbedding('embedding', [0, 0, 0], 3)).message).toContain('all zeros');
    badInput(() => validateEmbedding('embedding', [-0, 0], 2));
  });

  it('validateEmbedding_whenValuesUnderflowToZeroAsFloat32_rejectsIt', () => {
    // 1e-50 is non-zero as a double but becomes 0 once stored as float32, leaving a vector
    // with no direction. The check must look at the values actually stored.
    badInput(() => validateEmbedding('embedding', [1e-50, 0, 0], 3));
  });

  it('validateEmbedding_whenOnlyOneComponentIsNonZero_acceptsIt', () => {
    expect([...validateEmbedding('embedding', [0, 0, 1e-3], 3)][2]).toBeCloseTo(1e-3, 9);
  });
});

describe('validateContent', () => {
  it('validateContent_whenExactlyAtByteLimit_acceptsIt', () => {
    const content = 'a'.repeat(limits.maxContentBytes);
    expect(validateContent('content', content, limits)).toBe(content);
  });

  it('validateContent_whenOneByteOverLimit_rejectsIt', () => {
    const err = badInput(() => validateContent('content', 'a'.repeat(limits.maxContentBytes + 1), limits));
    expect(err.details).toEqual({ field: 'content', limit: limits.maxContentBytes });
  });

  it('validateContent_whenMultiByteCharacters_countsUtf8BytesNotCharacters', () => {
    const small: LimitSettings = { ...limits, maxContentBytes: 10 };
    // "é" is 2 bytes, "€" 3 bytes, "🧠" 4 bytes (2 UTF-16 units).
    expect(validateContent('content', 'é'.repeat(5), small)).toBe('é'.repeat(5));
    badInput(() => validateContent('content', `${'é'.repeat(5)}a`, small));
    expect(validateContent('content', '€€€a', small)).toBe('€€€a');
    badInput(() => validateContent('content', '€€€€', small)); // 4 chars, 12 bytes
    expect(validateContent('content', '🧠🧠ab', small)).toBe('🧠🧠ab');
    badInput(() => validateContent('content', '🧠🧠🧠', small)); // 6 UTF-16 units, 12 bytes
  });

  it('validateContent_whenRejecting_namesFieldAndByteCount', () => {
    const err = badInput(() => validateContent('episode.what', '€€€€', { ...limits, maxContentBytes: 10 }));
    expect(err.message).toContain('episode.what');
    expect(err.message).toContain('12 bytes');
  });
});

describe('validateTags', () => {
  it('validateTags_whenTagsHaveSurroundingWhitespace_trimsThem', () => {
    expect(validateTags(['  work ', '\thome\n'], limits)).toEqual(['work', 'home']);
  });

  it('validateTags_whenTagsRepeatAfterTrimming_deduplicatesKeepingFirstOrder', () => {
    expect(validateTags(['b', 'a', ' b', 'a ', 'c'], limits)).toEqual(['b', 'a', 'c']);
  });

  it('validateTags_whenTagIsBlank_rejectsIt', () => {
    badInput(() => validateTags(['ok', '   '], limits));
  });

  it('validateTags_whenTagIsTooLong_rejectsIt', () => {
    expect(validateTags(['x'.repeat(limits.maxTagLength)], limits)).toHaveLength(1);
    badInput(() => validateTags(['x'.repeat(limits.maxTagLength + 1)], limits));
  });

  it('validateTags_whenTagContainsControlCharacter_rejectsIt', () => {
    badInput(() => validateTags(['a\0b'], limits));
    badInput(() => validateTags(['a\u0007b'], limits));
  });

  it('validateTags_whenTagHasInnerSpaces_keepsThem', () => {
    expect(validateTags(['machine learning'], limits)).toEqual(['machine learning']);
  });

  it('validateTags_whenMoreThanMaxTagsDistinct_rejects', () => {
    const tooMany = Array.from({ length: limits.maxTags + 1 }, (_, i) => `t${i}`);
    expect(badInput(() => validateTags(tooMany, limits)).details).toEqual({ field: 'tags' });
  });

  it('validateTags_whenDuplicatesBringCountUnderMaxTags_acceptsThem', () => {
    const tags = [...Array.from({ length: limits.maxTags }, (_, i) => `t${i}`), 't0', ' t1 '];
    expect(validateTags(tags, limits)).toHaveLength(limits.maxTags);
  });
});

describe('validateMetadata', () => {
  it('validateMetadata_whenMissing_returnsNull', () => {
    expect(validateMetadata(undefined, limits)).toBeNull();
    expect(validateMetadata(null, limits)).toBeNull();
  });

  it('validateMetadata_whenJson_returnsAnEqualCopy', () => {
    const metadata = { a: 1, b: ['x', { c: null }], d: 'ü' };
    const out = validateMetadata(metadata, limits);
    expect(out).toEqual(metadata);
    expect(out).not.toBe(metadata);
  });

  it('validateMetadata_whenExactlyAtByteLimit_acceptsIt', () => {
    const small: LimitSettings = { ...limits, maxMetadataBytes: 20 };
    // JSON.stringify({ k: 'é'.repeat(6) }) = {"k":"éééééé"} -> 8 + 12 = 20 bytes
    expect(validateMetadata({ k: 'é'.repeat(6) }, small)).toEqual({ k: 'é'.repeat(6) });
  });

  it('validateMetadata_whenOverByteLimit_rejectsCountingUtf8Bytes', () => {
    const small: LimitSettings = { ...limits, maxMetadataBytes: 20 };
    // 7 characters of value but 21 bytes serialised.
    const err = badInput(() => validateMetadata({ k: 'é'.repeat(6) + 'a' }, small));
    expect(err.details).toEqual({ field: 'metadata' });
    expect(err.message).toContain('21 bytes');
  });

  it('validateMetadata_whenNotSerialisable_rejectsIt', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(badInput(() => validateMetadata(cyclic, limits)).details).toEqual({ field: 'metadata' });
    badInput(() => validateMetadata({ big: 10n }, limits));
  });
});

describe('validateUnit', () => {
  it('validateUnit_whenInUnitRange_acceptsIncludingEdges', () => {
    expect(validateUnit('confidence', 0)).toBe(0);
    expect(validateUnit('confidence', 1)).toBe(1);
    expect(validateUnit('confidence', 0.5)).toBe(0.5);
  });

  it('validateUnit_whenOutsideRangeOrNotFinite_rejectsNamingTheField', () => {
    for (const value of [-0.01, 1.01, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(badInput(() => validateUnit('confidence', value)).message).toContain('confidence');
    }
  });
});

describe('validateCount', () => {
  it('validateCount_whenIntegerInRange_acceptsIt', () => {
    expect(validateCount('maxResults', 1, 1, 1000)).toBe(1);
    expect(validateCount('maxResults', 1000, 1, 1000)).toBe(1000);
  });

  it('validateCount_whenOutOfRangeOrFractional_rejectsIt', () => {
    for (const value of [0, 1001, 1.5, Number.NaN]) badInput(() => validateCount('maxResults', value, 1, 1000));
  });
});

describe('validateTime', () => {
  it('validateTime_whenWithinYears1To9999_acceptsIt', () => {
    expect(validateTime('when', -62_135_596_800_000)).toBe(-62_135_596_800_000);
    expect(validateTime('when', 253_402_300_799_999)).toBe(253_402_300_799_999);
    expect(validateTime('when', 0)).toBe(0);
  });

  it('validateTime_whenOutsideRangeOrNotFinite_rejectsIt', () => {
    for (const value of [-62_135_596_800_001, 253_402_300_800_000, Number.NaN, Number.POSITIVE_INFINITY]) {
      badInput(() => validateTime('when', value));
    }
  });
});
