// Monitoring assets in ops/: promtool validates the rules, runs their unit tests and checks
// the scrape config and the dashboard's PromQL; every engram_* metric they name must be
// exported by a real node (an embedded one, and a cluster one for membership and
// replication series).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness, repoRoot } from '../support/node.js';
import { startNatsServer, type NatsServer } from '../support/natsServer.js';

const RULES = join(repoRoot, 'ops/prometheus/engram-rules.yml');
const RULE_TESTS = join(repoRoot, 'ops/prometheus/engram-rules.test.yml');
const SCRAPE_CONFIG = join(repoRoot, 'ops/prometheus/prometheus.yml');
const DASHBOARD = join(repoRoot, 'ops/grafana/engram-dashboard.json');

const harness = new Harness();
let nats: NatsServer | undefined;

interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { expr: string }[];
}
interface Dashboard {
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; definition?: string }[] };
}

function promtoolBinary(): string {
  const configured = process.env['PROMTOOL_BIN'];
  if (configured !== undefined && configured !== '') {
    if (!existsSync(configured)) throw new Error(`PROMTOOL_BIN=${configured} does not exist: install promtool with \`apt-get install -y prometheus\``);
    return configured;
  }
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();
  // Failing rather than skipping: CI must not pass without running the rule tests.
  if (found === '') throw new Error('promtool not found: install it with `apt-get install -y prometheus` (Debian package) or set PROMTOOL_BIN');
  return found;
}

function promtool(...args: string[]): string {
  const run = spawnSync(promtoolBinary(), args, { cwd: repoRoot, encoding: 'utf8' });
  const output = `${run.stdout}${run.stderr}`;
  if (run.error !== undefined) throw run.error;
  expect(run.status, `promtool ${args.join(' ')}:\n${output}`).toBe(0);
  return output;
}

const dashboard = (): Dashboard => JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const dashboardExprs = (): string[] => dashboard().panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

/** engram_* names; the lookarounds leave out recording rules such as node:engram_x:rate5m. */
function metricNames(text: string): Set<string> {
  return new Set(text.match(/(?<![\w:])engram_[A-Za-z0-9_]+(?![\w:])/g) ?? []);
}

/** Names and types from the `# TYPE` lines, which are present even for series-less gauges. */
function exportedMetrics(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(url.replace(/\/graphql$/, '/metrics'));
  expect(response.status).toBe(200);
  return response.text();
}

let exported = new Map<string, string>();
let embeddedUrl = '';
let embeddedDataDir = '';

beforeAll(async () => {
  nats = await startNatsServer();
  embeddedDataDir = harness.directory();
  const embedded = await harness.startNode({ dataDir: embeddedDataDir });
  embeddedUrl = embedded.url;
  const clustered = await harness.startNode({ natsUrl: nats.url, cluster: `monitoring${process.pid}`, nodeId: 'mon-1' });
  exported = new Map([...exportedMetrics(await scrape(embedded.url)), ...exportedMetrics(await scrape(clustered.url))]);
}, 60_000);

afterAll(async () => {
  await harness.cleanup();
  await nats?.stop();
});

describe('monitoring assets', () => {
  it('rulesFile_passesPromtoolCheckAndItsUnitTests', () => {
    expect(promtool('check', 'rules', RULES)).toMatch(/SUCCESS/);
    expect(promtool('test', 'rules', RULE_TESTS)).toMatch(/SUCCESS/);
  });

  it('scrapeConfig_passesPromtoolCheckConfigAndScrapesTheJobTheRulesSelect', () => {
    promtool('check', 'config', SCRAPE_CONFIG);
    expect(readFileSync(SCRAPE_CONFIG, 'utf8')).toMatch(/job_name: engram\b/);
    expect(readFileSync(RULES, 'utf8')).toContain('up{job="engram"}');
  });

  it('everyAlert_hasForSeverityAndNodeAnnotations', () => {
    const blocks = readFileSync(RULES, 'utf8').split(/^\s*- alert: /m).slice(1);
    const required = ['EngramHighErrorRate', 'EngramHighP99Latency', 'EngramReplicationLagHigh', 'EngramMemberSuspect', 'EngramMemberDead', 'EngramNodePartitioned', 'EngramDiskAlmostFull', 'EngramDiskFillsWithinDay', 'EngramNodeDown'];
    expect(blocks.map((b) => b.split('\n')[0]!.trim())).toEqual(expect.arrayContaining(required));
    for (const block of blocks) {
      const name = block.split('\n')[0]!.trim();
      expect(block, name).toMatch(/^\s+for: \d+[smh]$/m);
      expect(block, name).toMatch(/^\s+severity: (warning|critical)$/m);
      expect(block, name).toMatch(/^\s+summary: /m);
      expect(block, name).toMatch(/^\s+description: /m);
      expect(block, name).toContain('{{ $labels.');
    }
  });

  it('dashboard_hasDatasourceAndNodeVariablesAndValidPromql', () => {
    const board = dashboard();
    expect(board.schemaVersion).toBeGreaterThanOrEqual(36);
    const variables = new Map(board.templating.list.map((v) => [v.name, v]));
    expect(variables.get('datasource')?.type).toBe('datasource');
    expect(variables.get('node')?.definition).toMatch(/^label_values\(engram_\w+, node\)$/);
    for (const panel of board.panels.filter((p) => p.type !== 'row')) {
      expect(panel.datasource?.uid, panel.title).toBe('${datasource}');
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    }
    // promtool parses the queries as recording rules, with Grafana's variables filled in.
    const rules = dashboardExprs()
      .map((expr, i) => `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(expr.replaceAll('$__rate_interval', '5m'))}`)
      .join('\n');
    const file = join(harness.directory(), 'dashboard-queries.yml');
    writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules}\n`);
    promtool('check', 'rules', file);
  });

  it('dataVolumeGauge_matchesTheFilesystemOfTheDataDirectory', async () => {
    const volume = new Map(
      [...(await scrape(embeddedUrl)).matchAll(/^engram_data_volume_bytes\{[^}]*kind="(\w+)"[^}]*\} (\S+)$/gm)].map((m) => [m[1]!, Number(m[2])]),
    );
    const fs = await statfs(embeddedDataDir);
    expect(volume.get('size')).toBe(fs.blocks * fs.bsize);
    const available = volume.get('available')!;
    const used = volume.get('used')!;
    expect(available).toBeGreaterThan(0);
    expect(used).toBeGreaterThan(0);
    expect(available + used).toBeLessThanOrEqual(volume.get('size')!);
    // Free space moves with other writers on the machine; it stays within 1 GiB of a fresh reading.
    expect(Math.abs(available - fs.bavail * fs.bsize)).toBeLessThan(2 ** 30);
  });

  it('everyEngramMetricInRulesAndDashboard_isExportedByARealNode', () => {
    expect(exported.get('engram_cluster_members')).toBe('gauge');
    expect(exported.get('engram_replication_lag_seconds')).toBe('gauge');
    const referenced = new Set([
      ...metricNames(readFileSync(RULES, 'utf8')),
      ...metricNames(readFileSync(RULE_TESTS, 'utf8')),
      ...metricNames(dashboardExprs().join('\n')),
      ...metricNames(dashboard().templating.list.map((v) => v.definition ?? '').join('\n')),
    ]);
    expect(referenced.size).toBeGreaterThan(20);
    const unknown = [...referenced].filter((name) => {
      if (exported.has(name)) return false;
      const histogram = name.replace(/_(bucket|sum|count)$/, '');
      return exported.get(histogram) !== 'histogram';
    });
    expect(unknown, `not exported by an Engram node: ${unknown.join(', ')}`).toEqual([]);
  });
});
