// Every alert in ops/prometheus/engram-rules.yml links to its own section of the runbook.
// A runbook_url is RUNBOOK_BASE (which stands for the repository root, ops/README.md says how
// to change it) followed by a path in this repository and a GitHub-style anchor. The test
// strips the base, finds the file, and matches the anchor against the file's headings with
// GitHub's slug rules. Every relative link in docs/runbook/ must reach a file that exists,
// and a heading in it when it names one; each procedure has the sections a runbook needs.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const repoRoot = resolve(import.meta.dirname, '../..');
const RULES = join(repoRoot, 'ops/prometheus/engram-rules.yml');
const OPS_README = join(repoRoot, 'ops/README.md');
const ALERTS_RUNBOOK = 'docs/runbook/alerts.md';
const RUNBOOK_BASE = 'https://engram.example/';

interface Rule {
  alert?: string;
  record?: string;
  annotations?: Record<string, string>;
}

function alertRules(): Rule[] {
  const file = parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] };
  return file.groups.flatMap((group) => group.rules).filter((rule) => rule.alert !== undefined);
}

/** The lines of a markdown file outside fenced code blocks, where `#` starts a comment, not a heading. */
function proseLines(markdown: string): string[] {
  let fenced = false;
  return markdown.split('\n').filter((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

/** GitHub's heading anchor: lower case, punctuation other than hyphens and underscores removed, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Anchors of every heading; a repeated heading gets -1, -2, ... as on GitHub. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading === null) continue;
    const base = slug(heading[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

function sectionHeadings(markdown: string): string[] {
  return proseLines(markdown).flatMap((line) => /^##\s+(.+?)\s*$/.exec(line)?.[1] ?? []);
}

/** Targets of inline links `[text](target)`, code blocks left out. */
function linkTargets(markdown: string): string[] {
  return [...proseLines(markdown).join('\n').matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

describe('runbook links', () => {
  it('everyAlert_hasARunbookUrlUnderTheOneBase', () => {
    const rules = alertRules();
    expect(rules.length).toBeGreaterThanOrEqual(25);
    for (const rule of rules) {
      const url = rule.annotations?.['runbook_url'];
      expect(url, rule.alert).toBeDefined();
      expect(url!.startsWith(RUNBOOK_BASE), `${rule.alert}: ${url}`).toBe(true);
    }
  });

  it('runbookBase_isDocumentedInOpsReadme', () => {
    expect(readFileSync(OPS_README, 'utf8').includes(RUNBOOK_BASE), `ops/README.md does not name ${RUNBOOK_BASE}`).toBe(true);
  });

  it('everyRunbookUrl_pointsAtAHeadingOfAFileUnderDocs', () => {
    for (const rule of alertRules()) {
      const url = rule.annotations!['runbook_url']!;
      const [path, anchor] = url.slice(RUNBOOK_BASE.length).split('#') as [string, string | undefined];
      expect(path.startsWith('docs/'), `${rule.alert}: ${url}`).toBe(true);
      const file = join(repoRoot, path);
      expect(existsSync(file), `${rule.alert}: ${path} does not exist`).toBe(true);
      expect(anchor, `${rule.alert}: ${url} names no section`).toBeTruthy();
      expect([...anchors(readFileSync(file, 'utf8'))], `${rule.alert}: no heading for #${anchor} in ${path}`).toContain(anchor);
    }
  });

  it('everyAlert_pointsAtTheAlertsRunbookSectionNamedAfterIt', () => {
    for (const rule of alertRules()) {
      expect(rule.annotations!['runbook_url'], rule.alert).toBe(`${RUNBOOK_BASE}${ALERTS_RUNBOOK}#${slug(rule.alert!)}`);
    }
  });

  it('alertsRunbook_hasASectionForEachAlertAndNoOther', () => {
    const headings = sectionHeadings(readFileSync(join(repoRoot, ALERTS_RUNBOOK), 'utf8'));
    expect(headings).toEqual(alertRules().map((rule) => rule.alert));
  });

  it('linksInsideTheAlertsRunbook_toItsOwnSections_resolve', () => {
    const markdown = readFileSync(join(repoRoot, ALERTS_RUNBOOK), 'utf8');
    const own = anchors(markdown);
    const internal = linkTargets(markdown).filter((target) => target.startsWith('#') || target.startsWith('alerts.md#'));
    expect(internal.length).toBeGreaterThan(0);
    for (const target of internal) expect([...own], `broken link ${target}`).toContain(target.slice(target.indexOf('#') + 1));
  });

  it('everyRelativeLinkInTheRunbooks_reachesAFileAndHeadingThatExist', () => {
    const directory = join(repoRoot, 'docs/runbook');
    let checked = 0;
    for (const file of readdirSync(directory).filter((name) => name.endsWith('.md'))) {
      const markdown = readFileSync(join(directory, file), 'utf8');
      for (const target of linkTargets(markdown).filter((t) => !/^[a-z]+:/.test(t))) {
        const [path, anchor] = target.split('#') as [string, string | undefined];
        const linked = path === '' ? join(directory, file) : resolve(dirname(join(directory, file)), path);
        expect(existsSync(linked), `${file}: ${target}`).toBe(true);
        if (anchor !== undefined && linked.endsWith('.md')) expect([...anchors(readFileSync(linked, 'utf8'))], `${file}: ${target}`).toContain(anchor);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('everyProcedure_hasTheSectionsOfARunbook_andAScriptThatRunsIt', async () => {
    const { procedures } = await import('../../ops/runbook/procedures.js');
    const sections = ['When to use it', 'Prerequisites', 'Steps', 'Verify', 'Roll back', 'Troubleshooting', 'Run it locally'];
    for (const name of Object.keys(procedures)) {
      const markdown = readFileSync(join(repoRoot, 'docs/runbook', `${name}.md`), 'utf8');
      expect(sectionHeadings(markdown), name).toEqual(sections);
      expect(markdown, name).toContain(`npm run runbook -- ${name}`);
    }
  });

  it('slug_followsGitHubRules', () => {
    expect(slug('EngramHighErrorRate')).toBe('engramhigherrorrate');
    expect(slug('Divergence: a returning old primary')).toBe('divergence-a-returning-old-primary');
    expect(slug('Sub-buckets, truncated digests (message version 2)')).toBe('sub-buckets-truncated-digests-message-version-2');
    expect(slug('`engram_x` and snake_case')).toBe('engram_x-and-snake_case');
  });
});
