// Report rows and their rendering: an aligned text table (figure | value | baseline |
// ratio | target | note) or one JSON object. Every measured figure carries the baseline measured
// in the same run, because this machine is shared and noisy: absolute numbers drift from
// run to run, ratios to a same-run baseline much less.

export interface Row {
  figure: string;
  value: number;
  unit: string;
  baseline?: { label: string; value: number; unit?: string };
  /** value / baseline.value, filled in by `row`. */
  ratio?: number;
  target?: { text: string; pass: boolean };
  note?: string;
}

export interface Section {
  /** Stable key in --json output. */
  key: string;
  title: string;
  rows: Row[];
  /** Raw measurements for --json. */
  details: Record<string, unknown>;
}

export function row(figure: string, value: number, unit: string, extra: Omit<Row, 'figure' | 'value' | 'unit' | 'ratio'> = {}): Row {
  const out: Row = { figure, value, unit, ...extra };
  if (extra.baseline !== undefined && Number.isFinite(extra.baseline.value) && extra.baseline.value !== 0 && Number.isFinite(value)) {
    out.ratio = value / extra.baseline.value;
  }
  return out;
}

export function target(text: string, pass: boolean): { text: string; pass: boolean } {
  return { text, pass };
}

export function formatNumber(value: number, unit = ''): string {
  if (!Number.isFinite(value)) return 'n/a';
  const abs = Math.abs(value);
  let text: string;
  if (unit === '' && Number.isInteger(value)) text = String(value);
  else if (abs >= 1000) text = Math.round(value).toLocaleString('en-US');
  else if (abs >= 100) text = value.toFixed(0);
  else if (abs >= 10) text = value.toFixed(1);
  else if (abs >= 1) text = value.toFixed(2);
  else text = value.toFixed(3);
  return unit === '' ? text : `${text} ${unit}`;
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

export function renderTable(sections: readonly Section[]): string {
  const header = ['figure', 'value', 'baseline', 'ratio', 'target', 'note'];
  const lines: string[][] = [];
  const sectionStarts = new Map<number, string>();
  for (const section of sections) {
    sectionStarts.set(lines.length, section.title);
    for (const r of section.rows) {
      const baseline = r.baseline === undefined ? '' : `${formatNumber(r.baseline.value, r.baseline.unit ?? r.unit)}  [${r.baseline.label}]`;
      const ratio = r.ratio === undefined ? '' : `${r.ratio >= 100 ? r.ratio.toFixed(0) : r.ratio >= 10 ? r.ratio.toFixed(1) : r.ratio.toFixed(2)}x`;
      const tgt = r.target === undefined ? '' : `${r.target.pass ? 'PASS' : 'MISS'} (${r.target.text})`;
      lines.push([r.figure, formatNumber(r.value, r.unit), baseline, ratio, tgt, r.note ?? '']);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const render = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => pad(cell, widths[i]!, i === 1 || i === 3))
      .join(' | ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('-+-');
  const out: string[] = [render(header), rule];
  lines.forEach((cells, index) => {
    const title = sectionStarts.get(index);
    if (title !== undefined) out.push(index === 0 ? `== ${title}` : `${rule}\n== ${title}`);
    out.push(render(cells));
  });
  return out.join('\n');
}

export function toJson(sections: readonly Section[], meta: Record<string, unknown>): string {
  return JSON.stringify(
    {
      ...meta,
      sections: Object.fromEntries(
        sections.map((s) => [
          s.key,
          {
            title: s.title,
            rows: s.rows.map((r) => ({ ...r, target: r.target === undefined ? undefined : { ...r.target, status: r.target.pass ? 'PASS' : 'MISS' } })),
            details: s.details,
          },
        ]),
      ),
    },
    (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value),
    2,
  );
}
