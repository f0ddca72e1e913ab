// Reading a node's /metrics: the Prometheus text format parsed into samples, and
// quantiles of a histogram over an interval (the difference of two scrapes), estimated as
// Prometheus' histogram_quantile does, by linear interpolation within a bucket.

export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([A-Za-z_]\w*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = LINE.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) labels[key!] = value!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** `<graphql url without /graphql>/metrics`, parsed. */
export async function scrapeMetrics(graphqlUrl: string): Promise<MetricSample[]> {
  const response = await fetch(graphqlUrl.replace(/\/graphql$/, '/metrics'));
  if (!response.ok) throw new Error(`metrics: HTTP ${response.status}`);
  return parseMetrics(await response.text());
}

/** Values of `name`, by the given label (e.g. replica), or under "" when it has none. */
export function metricValues(samples: readonly MetricSample[], name: string, label?: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) if (s.name === name) out.set(label === undefined ? '' : (s.labels[label] ?? ''), s.value);
  return out;
}

/** Cumulative bucket counts by upper bound (ascending, +Inf last), summed over label sets. */
export interface Histogram {
  bounds: number[];
  counts: number[];
}

export function histogram(samples: readonly MetricSample[], name: string): Histogram | undefined {
  const byBound = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || s.labels['le'] === undefined) continue;
    const bound = s.labels['le'] === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels['le']);
    byBound.set(bound, (byBound.get(bound) ?? 0) + s.value);
  }
  if (byBound.size === 0) return undefined;
  const bounds = [...byBound.keys()].sort((a, b) => a - b);
  return { bounds, counts: bounds.map((b) => byBound.get(b)!) };
}

/** Observations between two scrapes of the same histogram. */
export function histogramDelta(before: Histogram | undefined, after: Histogram): Histogram {
  return { bounds: after.bounds, counts: after.counts.map((c, i) => c - (before?.counts[i] ?? 0)) };
}

export function histogramCount(h: Histogram): number {
  return h.counts[h.counts.length - 1] ?? 0;
}

/** The q-quantile (0..1), in the histogram's unit; NaN when empty. In the +Inf bucket, the highest finite bound. */
export function histogramQuantile(h: Histogram, q: number): number {
  const total = histogramCount(h);
  if (total <= 0) return NaN;
  const rank = q * total;
  let previousCount = 0;
  let previousBound = 0;
  for (let i = 0; i < h.bounds.length; i++) {
    const bound = h.bounds[i]!;
    const count = h.counts[i]!;
    if (count >= rank) {
      if (!Number.isFinite(bound)) return previousBound;
      const inBucket = count - previousCount;
      return inBucket <= 0 ? bound : previousBound + (bound - previousBound) * ((rank - previousCount) / inBucket);
    }
    previousCount = count;
    previousBound = bound;
  }
  return previousBound;
}
