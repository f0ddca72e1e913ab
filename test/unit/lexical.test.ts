import { describe, expect, it } from 'vitest';
import {
  MAX_TERMS_PER_MEMORY,
  MAX_TERM_LENGTH,
  inverseDocumentFrequency,
  scoreLexical,
  termFrequencies,
  tokenize,
} from '../../src/engine/lexical.js';
import type { TermPostings } from '../../src/engine/lexical.js';

function postings(term: string, entries: Record<string, number>): TermPostings {
  return { term, postings: new Map(Object.entries(entries)) };
}

/** Documents that contain a term: `count` of them, named `${prefix}0..`. */
function docs(prefix: string, count: number, frequency = 1): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < count; i++) out[`${prefix}${i}`] = frequency;
  return out;
}

const saturated = (frequency: number) => frequency / (frequency + 1.2);

describe('tokenize', () => {
  it('tokenize_whenMixedCase_lowercasesTokens', () => {
    expect(tokenize('Quick BROWN Fox')).toEqual(['quick', 'brown', 'fox']);
  });

  it('tokenize_whenStopwordsPresent_dropsThem', () => {
    expect(tokenize('The cat and the hat are on a mat')).toEqual(['cat', 'hat', 'mat']);
  });

  it('tokenize_whenOneCharacterTokens_dropsThem', () => {
    expect(tokenize('x y z ok 7 42')).toEqual(['ok', '42']);
  });

  it('tokenize_whenPunctuationSeparatesWords_splitsOnIt', () => {
    expect(tokenize('e-mail, foo_bar; hello.world!')).toEqual(['mail', 'foo', 'bar', 'hello', 'world']);
  });

  it('tokenize_whenAccentedLatinLetters_keepsThemInOneToken', () => {
    expect(tokenize('Café Zürich')).toEqual(['café', 'zürich']);
  });

  it('tokenize_whenDecomposedAccents_normalisesToComposedForm', () => {
    expect(tokenize('Cafe\u0301')).toEqual(tokenize('Caf\u00e9'));
    expect(tokenize('Cafe\u0301')).toEqual(['caf\u00e9']);
  });

  it('tokenize_whenNonLatinScripts_keepsLettersOfThoseScripts', () => {
    expect(tokenize('Москва 東京 ελληνικά')).toEqual(['москва', '東京', 'ελληνικά']);
  });

  it('tokenize_whenWordsContainCombiningMarks_keepsEachWordWhole', () => {
    // Devanagari vowel signs and virama are combining marks (\p{M}), part of the word.
    expect(tokenize('नमस्ते दुनिया')).toEqual(['नमस्ते', 'दुनिया']);
  });

  it('tokenize_whenCompatibilityCharactersNormaliseToUppercase_stillLowercases', () => {
    // NFKC maps U+210D to "H" and U+3392 to "MHz"; lowercasing must happen after that.
    expect(tokenize('\u210Dotel 100\u3392')).toEqual(['hotel', '100mhz']);
  });

  it('tokenize_whenTokenLongerThanMaxTermLength_truncatesIt', () => {
    expect(MAX_TERM_LENGTH).toBe(64);
    expect(tokenize(`${'x'.repeat(100)} ok`)).toEqual(['x'.repeat(64), 'ok']);
  });

  it('tokenize_whenTruncatingAstralLetters_doesNotSplitASurrogatePair', () => {
    // U+20000 is a letter outside the BMP (two UTF-16 units); the 64-unit cut lands mid-pair.
    const [token] = tokenize(`a${'\u{20000}'.repeat(40)}`);
    expect(token).toBeDefined();
    expect(() => encodeURIComponent(token!)).not.toThrow();
  });

  it('tokenize_whenEmptyOrOnlyPunctuation_returnsNothing', () => {
    expect(tokenize('')).toEqual([]);
    expect(tokenize('... !!! ---')).toEqual([]);
  });
});

describe('termFrequencies', () => {
  it('termFrequencies_whenTermsRepeat_countsEachTerm', () => {
    expect(termFrequencies('Apple banana apple, the APPLE')).toEqual(new Map([['apple', 3], ['banana', 1]]));
  });

  it('termFrequencies_whenMoreDistinctTermsThanLimit_keepsTheMostFrequent', () => {
    expect(MAX_TERMS_PER_MEMORY).toBe(1000);
    const frequent = Array.from({ length: 10 }, (_, i) => `hot${i}`);
    const rare = Array.from({ length: 1190 }, (_, i) => `w${i.toString().padStart(4, '0')}`);
    const text = [...frequent, ...frequent, ...frequent, ...rare].join(' ');
    const counts = termFrequencies(text);
    expect(counts.size).toBe(MAX_TERMS_PER_MEMORY);
    for (const term of frequent) expect(counts.get(term)).toBe(3);
    // Ties among the rare terms are broken alphabetically: the first 990 stay.
    expect(counts.has('w0989')).toBe(true);
    expect(counts.has('w0990')).toBe(false);
  });

  it('termFrequencies_whenExactlyAtLimit_keepsEveryTerm', () => {
    const text = Array.from({ length: MAX_TERMS_PER_MEMORY }, (_, i) => `t${i}`).join(' ');
    expect(termFrequencies(text).size).toBe(MAX_TERMS_PER_MEMORY);
  });
});

describe('inverseDocumentFrequency', () => {
  it('inverseDocumentFrequency_whenGivenCounts_matchesBm25Formula', () => {
    expect(inverseDocumentFrequency(10, 2)).toBeCloseTo(Math.log(1 + 8.5 / 2.5), 12);
    expect(inverseDocumentFrequency(10, 0)).toBeCloseTo(Math.log(1 + 10.5 / 0.5), 12);
  });

  it('inverseDocumentFrequency_whenTermInEveryDocument_staysPositive', () => {
    expect(inverseDocumentFrequency(100, 100)).toBeGreaterThan(0);
  });

  it('inverseDocumentFrequency_whenTermIsRarer_isLarger', () => {
    expect(inverseDocumentFrequency(100, 1)).toBeGreaterThan(inverseDocumentFrequency(100, 50));
  });
});

describe('scoreLexical', () => {
  it('scoreLexical_whenMemoryContainsEveryCueTerm_scoresNearlyOne', () => {
    const scores = scoreLexical(['alpha', 'beta'], [postings('alpha', { d1: 1, d2: 1 }), postings('beta', { d1: 1, d3: 1 })], 10);
    expect(scores.get('d1')).toBeCloseTo(0.99 + 0.01 * saturated(1), 12);
    expect(scores.get('d1')).toBeGreaterThanOrEqual(0.99);
    expect(scores.get('d1')).toBeLessThanOrEqual(1);
  });

  it('scoreLexical_whenMemoryContainsSomeCueTerms_scoresIdfShareOfMatchedTerms', () => {
    const n = 100;
    const list = [postings('alpha', docs('a', 5)), postings('beta', { ...docs('b', 20), a0: 1 }), postings('gamma', docs('g', 40))];
    const scores = scoreLexical(['alpha', 'beta', 'gamma'], list, n);
    const ia = inverseDocumentFrequency(n, 5);
    const ib = inverseDocumentFrequency(n, 21);
    const ig = inverseDocumentFrequency(n, 40);
    const total = ia + ib + ig;
    const tf = 0.99 + 0.01 * saturated(1);
    expect(scores.get('a1')).toBeCloseTo((ia / total) * tf, 12);
    expect(scores.get('b1')).toBeCloseTo((ib / total) * tf, 12);
    expect(scores.get('g1')).toBeCloseTo((ig / total) * tf, 12);
    expect(scores.get('a0')).toBeCloseTo(((ia + ib) / total) * tf, 12);
  });

  it('scoreLexical_whenOneTermIsRare_weighsItMoreThanACommonTerm', () => {
    const list = [postings('rare', { r: 1 }), postings('common', { ...docs('c', 80) })];
    const scores = scoreLexical(['rare', 'common'], list, 100);
    expect(scores.get('r')!).toBeGreaterThan(scores.get('c0')!);
    expect(scores.get('r')!).toBeGreaterThan(0.5);
    expect(scores.get('c0')!).toBeLessThan(0.5);
  });

  it('scoreLexical_whenCueTermHasNoPostings_stillCountsItInTheTotal', () => {
    const scores = scoreLexical(['alpha', 'missing'], [postings('alpha', { d1: 1 })], 10);
    const ia = inverseDocumentFrequency(10, 1);
    const im = inverseDocumentFrequency(10, 0);
    expect(scores.get('d1')).toBeCloseTo((ia / (ia + im)) * (0.99 + 0.01 * saturated(1)), 12);
  });

  it('scoreLexical_whenSameCoverage_breaksTiesByTermFrequency', () => {
    const scores = scoreLexical(['alpha', 'beta'], [postings('alpha', { low: 1, high: 9 }), postings('beta', { other: 1 })], 10);
    expect(scores.get('high')!).toBeGreaterThan(scores.get('low')!);
  });

  it('scoreLexical_whenTermFrequencyIsHuge_neverPassesTheNextCoverageStep', () => {
    const list = [postings('alpha', { spam: 1_000_000, full: 1 }), postings('beta', { full: 1 })];
    const scores = scoreLexical(['alpha', 'beta'], list, 10);
    expect(scores.get('spam')!).toBeLessThan(scores.get('full')!);
  });

  it('scoreLexical_forManyDocumentsAndFrequencies_keepsScoresInUnitRange', () => {
    const list = [
      postings('alpha', { ...docs('d', 50, 1000), x: 3 }),
      postings('beta', { ...docs('d', 30, 7) }),
      postings('gamma', { ...docs('d', 5, 1) }),
    ];
    const scores = scoreLexical(['alpha', 'beta', 'gamma'], list, 60);
    expect(scores.size).toBe(51);
    for (const score of scores.values()) {
      expect(score).toBeGreaterThan(0);
      expect(score).toBeLessThanOrEqual(1);
    }
  });

  it('scoreLexical_whenDocumentCountIsZero_stillScoresWithinUnitRange', () => {
    const scores = scoreLexical(['alpha'], [postings('alpha', { d1: 1 })], 0);
    expect(scores.get('d1')).toBeGreaterThan(0);
    expect(scores.get('d1')).toBeLessThanOrEqual(1);
  });

  it('scoreLexical_whenCueIsEmpty_returnsNoScores', () => {
    expect(scoreLexical([], [], 10).size).toBe(0);
  });

  it('scoreLexical_whenPostingsHaveTermOutsideCue_ignoresIt', () => {
    const scores = scoreLexical(['alpha'], [postings('alpha', { d1: 1 }), postings('zeta', { d2: 1 })], 10);
    expect(scores.get('d2') ?? 0).toBe(0);
    expect(scores.get('d1')).toBeCloseTo(0.99 + 0.01 * saturated(1), 12);
  });
});
