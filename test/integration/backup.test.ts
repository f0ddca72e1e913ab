// Backup and restore through `npm run backup` and `npm run restore` against running nodes:
// a backup taken while writes go on holds every memory acknowledged before it began, and a
// restore into an empty node (under the same id or another) holds the same memories with
// the same versions and embeddings; a damaged file, or an invalid record line, writes
// nothing; keys below ADMIN are refused.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAuthSettings } from '../../src/auth/authSettings.js';
import { verifyBackupFile } from '../../src/backup/backupFile.js';
import { LightLoad } from '../../ops/runbook/lightLoad.js';
import { gqlData, Harness, postGraphql, repoRoot, type TestNode } from '../support/node.js';

const harness = new Harness();
const DIM = 8;
let source: TestNode;

function run(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    execFile(process.execPath, ['--import', 'tsx', `src/cli/${script}.ts`, ...args], { cwd: repoRoot }, (error, stdout, stderr) => resolveRun({ code: error === null ? 0 : Number((error as { code?: number }).code ?? 1), stdout, stderr }));
  });
}

const base = (node: TestNode) => node.url.replace(/\/graphql$/, '');

/** Every memory of a space: id, version clock, content, embedding and conflicts. */
async function contents(node: TestNode, space: string): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  let after: string | null = null;
  for (;;) {
    const data: { memories: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } = await node.gql(
      'query($space: ID!, $after: String) { memories(space: $space, first: 100, after: $after) { edges { node { id content version embeddingBase64 confidence tags kind conflicts { version content } } } pageInfo { hasNextPage endCursor } } }',
      { space, after },
    );
    for (const edge of data.memories.edges) out.set(edge.node.id, edge.node);
    if (!data.memories.pageInfo.hasNextPage) return out;
    after = data.memories.pageInfo.endCursor;
  }
}

function vector(i: number): number[] {
  return Array.from({ length: DIM }, (_, d) => Math.cos(i * 0.37 + d));
}

async function writeMany(node: TestNode, space: string, from: number, count: number): Promise<void> {
  for (let start = from; start < from + count; start += 25) {
    const fields = Array.from({ length: Math.min(25, from + count - start) }, (_, j) => {
      const i = start + j;
      return `m${j}: remember(space: "${space}", memory: { id: "mem-${i}", content: "memory ${i}", embedding: [${vector(i).join(',')}], tags: ["t${i % 3}"] }) { id }`;
    });
    await node.gql(`mutation { ${fields.join(' ')} }`);
  }
}

beforeAll(async () => {
  source = await harness.startNode();
  await source.gql(`mutation { createSpace(id: "notes", dimension: ${DIM}, shards: 3) { id } }`);
  await writeMany(source, 'notes', 0, 300);
  // Updates (versions above 1), a delete (a tombstone) and an episode.
  await source.gql('mutation { a: remember(space: "notes", memory: { id: "mem-1", content: "memory 1, edited" }) { id } b: forget(space: "notes", id: "mem-2", mode: DELETE) { affected } }');
  await source.gql(`mutation { rememberEpisode(space: "notes", episode: { id: "ep-1", what: "a walk", embedding: [${vector(999).join(',')}] }) { id } }`);
}, 60_000);

afterAll(() => harness.cleanup());

describe('backup and restore', () => {
  it('backs up under load and restores into empty nodes with the same ids, versions and embeddings', async () => {
    const before = await contents(source, 'notes');
    const load = new LightLoad({ targets: () => [source.url], space: 'notes', dimension: DIM, ratePerSecond: 50, idPrefix: 'during' });
    load.start();
    const file = join(harness.directory(), 'notes.backup');
    const backup = await run('backup', ['--url', base(source), '--space', 'notes', '--out', file]);
    const report = await load.stop();
    expect(backup.stderr).toContain('written to');
    expect(backup.code).toBe(0);
    expect(report.failed).toBe(0);
    const summary = await verifyBackupFile(file);
    expect(summary.spaces.map((s) => [s.definition.id, s.definition.dimension, s.definition.shards, s.shards.length])).toEqual([['notes', DIM, 3, 3]]);
    // Every memory acknowledged before the backup began is in it; the delete is a tombstone.
    const ids = readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('{"type":"record"')).map((l) => JSON.parse(l).copy.record as { id: string; deleted?: boolean });
    for (const id of before.keys()) expect(ids.some((r) => r.id === id && r.deleted !== true)).toBe(true);
    expect(ids.find((r) => r.id === 'mem-2')?.deleted).toBe(true);

    const backedUp = new Set(ids.filter((r) => r.deleted !== true).map((r) => r.id));
    const now = await contents(source, 'notes');
    for (const [targetSpace, args] of [['notes', []], ['notes-copy', ['--as', 'notes-copy']]] as const) {
      const target = await harness.startNode();
      const restore = await run('restore', ['--url', base(target), '--in', file, ...args]);
      expect(restore.stderr).toContain('the checksum matches');
      expect(restore.code).toBe(0);
      const restored = await contents(target, targetSpace);
      expect([...restored.keys()].sort()).toEqual([...backedUp].sort());
      // Memories not written during the backup are identical; the rest are the versions the snapshot held or later.
      for (const [id, memory] of before) if (restored.has(id) && !id.startsWith('during')) expect(restored.get(id)).toEqual(id === 'mem-2' ? undefined : memory);
      for (const id of backedUp) expect(restored.get(id)).toEqual(now.get(id));
      const space = (await target.gql('{ spaces { id dimension shards } }')).spaces.filter((s: { id: string }) => s.id !== 'default');
      expect(space).toEqual([{ id: targetSpace, dimension: DIM, shards: 3 }]);
      // A restore repeated into a space that is no longer empty is refused, and changes nothing.
      const again = await run('restore', ['--url', base(target), '--in', file, ...args]);
      expect(again.code).not.toBe(0);
      expect(again.stderr).toContain('already holds');
      // --merge finishes a restore that stopped: merging the same records again changes nothing.
      const merged = await run('restore', ['--url', base(target), '--in', file, '--merge', ...args]);
      expect(merged.code).toBe(0);
      expect(await contents(target, targetSpace)).toEqual(restored);
    }
  }, 120_000);

  it('refuses a damaged file before writing anything', async () => {
    const file = join(harness.directory(), 'damaged.backup');
    expect((await run('backup', ['--url', base(source), '--out', file])).code).toBe(0);
    const text = readFileSync(file, 'utf8');
    const at = text.indexOf('memory 10');
    writeFileSync(file, `${text.slice(0, at)}memory 11${text.slice(at + 'memory 10'.length)}`);
    const target = await harness.startNode();
    const restore = await run('restore', ['--url', base(target), '--in', file]);
    expect(restore.code).not.toBe(0);
    expect(restore.stderr).toContain('checksum does not match');
    expect((await target.gql('{ spaces { id } }')).spaces).toEqual([{ id: 'default' }]);
    // A file cut short has no end line.
    writeFileSync(file, text.slice(0, text.length - 200));
    expect((await run('restore', ['--url', base(target), '--in', file])).stderr).toMatch(/not JSON|no end line/);
  }, 60_000);

  it('refuses a restore request with an invalid line, naming it, and writes none of its lines', async () => {
    const target = await harness.startNode();
    await target.gql(`mutation { createSpace(id: "strict", dimension: ${DIM}) { id } }`);
    const file = join(harness.directory(), 'strict.backup');
    expect((await run('backup', ['--url', base(source), '--space', 'notes', '--out', file])).code).toBe(0);
    const good = readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('{"type":"record"') && !l.includes('"deleted":true')).slice(0, 3);
    const copy = JSON.parse(good[1]!);
    copy.copy.embedding = Buffer.alloc(4 * (DIM - 1)).toString('base64');
    const lines = [good[0], JSON.stringify(copy), '{"type":"record","copy":{"record":{"id":""}}}', good[2]].join('\n');
    const response = await target.post('mutation($lines: String!) { restoreRecords(space: "strict", lines: $lines) { records } }', { lines });
    expect(response.body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    expect((response.body.errors?.[0]?.extensions?.['errors'] as { line: number }[]).map((e) => e.line)).toEqual([1, 2]);
    expect((await target.gql('{ spaces { id memoryCount } }')).spaces).toContainEqual({ id: 'strict', memoryCount: 0 });
    const accepted = await target.gql('mutation($lines: String!) { restoreRecords(space: "strict", lines: $lines) { records } }', { lines: [good[0], good[2]].join('\n') });
    expect(accepted.restoreRecords.records).toBe(2);
  }, 60_000);

  it('needs an ADMIN key for the space', async () => {
    const keyFile = join(harness.directory(), 'admin.key');
    writeFileSync(keyFile, 'backup-admin-key-0123456789-abcdefghijklmnop');
    const keyed = await harness.startNode({ auth: { ...defaultAuthSettings, mode: 'keys', adminKeyFile: keyFile } });
    const admin = { authorization: 'Bearer backup-admin-key-0123456789-abcdefghijklmnop' };
    await gqlData(keyed.url, 'mutation { createSpace(id: "kept", dimension: 4) { id } }', {}, admin);
    const { secret } = (await gqlData(keyed.url, 'mutation { createApiKey(spaces: ["kept"], role: WRITE) { secret } }', {}, admin)).createApiKey;
    const page = await postGraphql(keyed.url, '{ backupShard(space: "kept", shard: 0) { count } }', {}, { authorization: `Bearer ${secret}` });
    expect(page.body.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    const cli = await run('backup', ['--url', base(keyed), '--out', join(harness.directory(), 'x'), '--key-file', keyFile]);
    expect(cli.code).toBe(0);
  }, 60_000);
});
