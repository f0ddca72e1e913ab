// Lexical matching for text cues. There is no embedding model on the node, so a text cue
// is matched against the words of a memory's content, tags and episode fields through
// postings kept in RocksDB. Similarity is the IDF-weighted share of the cue's terms that a
// memory contains, which stays in 0..1 and is comparable across queries.

const STOPWORDS = new Set(
  'a an and are as at be but by for from has have he her his i if in into is it its me my no not of on or our she so that the their them there they this to was we were what when where which who why will with you your'.split(' '),
);

/** Longest term indexed; longer runs of letters are truncated. */
export const MAX_TERM_LENGTH = 64;
/** Most distinct terms indexed per memory, which bounds the index entries one write creates. */
export const MAX_TERMS_PER_MEMORY = 1000;

export function tokenize(text: string): string[] {
  const out: string[] = [];
  // NFKC first: compatibility forms can normalise to capitals (U+210D -> H). Marks (\p{M})
  // belong to words in scripts such as Devanagari and Thai.
  for (const match of text.normalize('NFKC').toLowerCase().matchAll(/[\p{L}\p{N}][\p{L}\p{M}\p{N}]*/gu)) {
    // Cut by code points so a surrogate pair is never split.
    const token = match[0].length > MAX_TERM_LENGTH ? Array.from(match[0]).slice(0, MAX_TERM_LENGTH).join('') : match[0];
    if (token.length < 2 || STOPWORDS.has(token)) continue;
    out.push(token);
  }
  return out;
}

/** Distinct terms with their frequencies, bounded to the most frequent MAX_TERMS_PER_MEMORY. */
export function termFrequencies(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const token of tokenize(text)) counts.set(token, (counts.get(token) ?? 0) + 1);
  if (counts.size <= MAX_TERMS_PER_MEMORY) return counts;
  const kept = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, MAX_TERMS_PER_MEMORY);
  return new Map(kept);
}

/** Inverse document frequency (BM25 form, always positive). */
export function inverseDocumentFrequency(documentCount: number, documentFrequency: number): number {
  return Math.log(1 + (documentCount - documentFrequency + 0.5) / (documentFrequency + 0.5));
}

export interface TermPostings {
  term: string;
  /** id -> term frequency in that memory */
  postings: Map<string, number>;
}

/**
 * Scores every memory that contains at least one cue term.
 * similarity = sum(idf of matched terms) / sum(idf of all cue terms); ties are broken by a
 * small, saturating term-frequency bonus that never lifts a score past the next coverage step.
 */
export function scoreLexical(cueTerms: readonly string[], postings: readonly TermPostings[], documentCount: number): Map<string, number> {
  const idf = new Map<string, number>();
  for (const term of cueTerms) {
    const found = postings.find((p) => p.term === term);
    idf.set(term, inverseDocumentFrequency(Math.max(documentCount, 1), found?.postings.size ?? 0));
  }
  const total = [...idf.values()].reduce((sum, value) => sum + value, 0);
  const scores = new Map<string, number>();
  if (total <= 0) return scores;
  for (const { term, postings: list } of postings) {
    const weight = idf.get(term) ?? 0;
    for (const [id, frequency] of list) {
      const saturated = frequency / (frequency + 1.2);
      scores.set(id, (scores.get(id) ?? 0) + (weight / total) * (0.99 + 0.01 * saturated));
    }
  }
  for (const [id, score] of scores) scores.set(id, Math.min(1, score));
  return scores;
}
