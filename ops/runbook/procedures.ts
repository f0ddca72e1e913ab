// The runbook procedures of docs/runbook/, each performed against real local processes
// under a light write load, with its "Verify" section checked. Every procedure builds its
// own cluster in a temporary directory and removes it, pass or fail.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChaosCluster } from '../../cluster/chaos/chaosCluster.js';
import { schemaFeatures } from '../../cluster/chaos/chaosQueries.js';
import { repoRoot } from '../../cluster/chaos/engramProcess.js';
import { claimsWithout, contents, createSpace, failoverLines, gql, primaries, readBack, until, type Verify } from './checks.js';
import { LightLoad, type LoadReport } from './lightLoad.js';
import { LocalCluster } from './localCluster.js';

const SPACE = 'runbook';
const DIMENSION = 16;
const SHARDS = 6;
/** The light load: writes a second, spread over the nodes. */
const RATE = 40;

/** Something a procedure started, which the runner closes whatever happens. */
export interface Closable {
  close(): Promise<void>;
  killNow(): void;
}

export type Procedure = (verify: Verify, track: <T extends Closable>(resource: T) => T) => Promise<void>;

function load(targets: () => readonly string[], idPrefix: string): LightLoad {
  const writes = new LightLoad({ targets, space: SPACE, dimension: DIMENSION, ratePerSecond: RATE, idPrefix });
  writes.start();
  return writes;
}

/** Lets the load run for `ms`. */
const run = (ms: number) => new Promise((r) => setTimeout(r, ms));

function checkLoad(verify: Verify, report: LoadReport, maxErrorRate = 0): void {
  verify.figures['writes acknowledged'] = report.acknowledged;
  verify.figures['writes retried on another node'] = report.retried;
  const rate = report.sent === 0 ? 1 : report.failed / report.sent;
  verify.check(maxErrorRate === 0 ? '0 failed requests' : `error rate under ${(maxErrorRate * 100).toFixed(1)}%`, report.sent > 0 && rate <= maxErrorRate, `${report.failed} failed of ${report.sent}, ${report.retried} retried${report.failures.length > 0 ? `; first: ${report.failures[0]}` : ''}`);
}

async function checkReadBack(verify: Verify, urls: readonly string[], ids: readonly string[], what = 'every acknowledged write is read back through every node'): Promise<void> {
  const { missing, tookMs } = await readBack(urls, SPACE, ids);
  verify.check(what, ids.length > 0 && missing === 0, `${ids.length} writes through ${urls.length} nodes, ${missing} reads missing, ${tookMs} ms`);
}

function cli(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', `src/cli/${script}.ts`, ...args], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number((error as { code?: number }).code ?? 1), stdout, stderr }));
  });
}

const base = (url: string) => url.replace(/\/graphql$/, '');

async function busiest(cluster: LocalCluster): Promise<{ node: string; shards: Set<string> }> {
  const led = await primaries(cluster.url(cluster.upIds[0]!), SPACE);
  const counts = new Map<string, number>();
  for (const node of led.values()) counts.set(node, (counts.get(node) ?? 0) + 1);
  const node = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]![0];
  return { node, shards: new Set([...led].filter(([, primary]) => primary === node).map(([shard]) => shard)) };
}

export const procedures: Record<string, Procedure> = {
  async deploy(verify, track) {
    verify.step('one embedded node');
    const single = track(await LocalCluster.start({ name: 'deploy1', embedded: true }, ['solo']));
    const ready = await fetch(base(single.url('solo')) + '/health/ready');
    verify.check('the embedded node is ready', ready.status === 200, `/health/ready ${ready.status}`);
    await gql(single.url('solo'), `mutation { createSpace(id: "${SPACE}", dimension: ${DIMENSION}) { id } }`);
    await gql(single.url('solo'), `mutation { remember(space: "${SPACE}", memory: { id: "first", content: "deployed", embedding: [${Array.from({ length: DIMENSION }, (_, i) => (i === 0 ? 1 : 0)).join(',')}] }) { id } }`);
    const read = await gql<{ memory: { content: string } | null }>(single.url('solo'), `{ memory(space: "${SPACE}", id: "first") { content } }`);
    verify.check('a write is read back', read.memory?.content === 'deployed');
    await single.close();
    verify.step('a 3-node cluster');
    const cluster = track(await LocalCluster.start({ name: 'deploy3' }, ['d1', 'd2', 'd3']));
    const aliveMs = await until(60_000, 'membership', async () => {
      await cluster.allAlive();
      return null;
    }).catch(() => -1);
    verify.check('every node sees every node ALIVE, with one placement version', aliveMs >= 0, `${aliveMs} ms`);
    await createSpace(cluster.url('d1'), cluster.urls(), SPACE, DIMENSION, SHARDS);
    const writes = load(() => [cluster.url('d1')], 'deploy');
    await run(1500);
    const report = await writes.stop();
    await checkReadBack(verify, cluster.urls(['d2', 'd3']), report.ids, 'writes through one node are read through each of the others');
  },

  async 'add-node'(verify, track) {
    const cluster = track(await LocalCluster.start({ name: 'add' }, ['a1', 'a2', 'a3']));
    await cluster.allAlive();
    await createSpace(cluster.url('a1'), cluster.urls(), SPACE, DIMENSION, SHARDS);
    const writes = load(() => cluster.urls(['a1', 'a2', 'a3']), 'add');
    await run(2000);
    verify.step('start a4 under load');
    await cluster.add('a4');
    const joinedMs = await until(60_000, 'a4 to join', async () => {
      await cluster.allAlive(['a1', 'a2', 'a3', 'a4']);
      return null;
    }).catch(() => -1);
    verify.check('every node sees 4 ALIVE with one placement version', joinedMs >= 0, `${joinedMs} ms`);
    const ledMs = await until(30_000, 'a4 to lead a shard', async () => ([...(await primaries(cluster.url('a4'), SPACE)).values()].includes('a4') ? null : 'a4 leads nothing yet')).catch(() => -1);
    const led = [...(await primaries(cluster.url('a4'), SPACE)).values()].filter((n) => n === 'a4').length;
    verify.check('the new node leads at least one shard', ledMs >= 0 && led > 0, `${led} of ${SHARDS} shards`);
    await run(2000);
    const report = await writes.stop();
    checkLoad(verify, report);
    await checkReadBack(verify, cluster.urls(), report.ids);
  },

  async 'remove-node'(verify, track) {
    const cluster = track(await LocalCluster.start({ name: 'remove' }, ['r1', 'r2', 'r3', 'r4']));
    await cluster.allAlive();
    await createSpace(cluster.url('r1'), cluster.urls(), SPACE, DIMENSION, SHARDS);
    const { node: victim, shards } = await busiest(cluster);
    const survivors = cluster.ids.filter((id) => id !== victim);
    const writes = load(() => cluster.urls(survivors), 'remove');
    await run(2000);
    const marks = cluster.logMarks();
    verify.step(`npm run drain -- --url ${base(cluster.url(victim))} (it leads ${shards.size} shards)`);
    const drained = await cli('drain', ['--url', base(cluster.url(victim))]);
    const result = drained.code === 0 ? (JSON.parse(drained.stdout.trim()) as { shardsMoved: number; shardsNotMoved: number; timedOut: boolean; elapsedMs: number }) : undefined;
    verify.check('the drain moved every shard the node led', result !== undefined && result.shardsNotMoved === 0 && !result.timedOut && result.shardsMoved === shards.size, result === undefined ? drained.stderr.trim() : `${result.shardsMoved} moved in ${Math.round(result.elapsedMs)} ms`);
    const exitedMs = await until(30_000, `${victim} to exit`, async () => (cluster.processes.get(victim)!.state === 'down' ? null : 'still running')).catch(() => -1);
    verify.check('the drained process exits by itself', exitedMs >= 0, `${exitedMs} ms after the drain answered`);
    const states = await Promise.all(survivors.map(async (id) => (await gql<{ cluster: { nodes: { id: string; state: string }[] } }>(cluster.url(id), '{ cluster { nodes { id state } } }')).cluster.nodes.find((n) => n.id === victim)?.state ?? 'LEFT'));
    verify.check('the other nodes see it LEFT, not DEAD', states.every((s) => s === 'LEFT'), states.join(', '));
    await run(2000);
    const report = await writes.stop();
    checkLoad(verify, report);
    await checkReadBack(verify, cluster.urls(survivors), report.ids);
    const lines = survivors.flatMap((id) => cluster.logFrom(id, marks.get(id)));
    const failovers = [...failoverLines(lines), ...claimsWithout(lines, victim, shards)];
    verify.check('no failover in the logs: every new primary fenced the drained node', failovers.length === 0, failovers.slice(0, 3).join('; '));
  },

  async 'rolling-restart'(verify, track) {
    const ids = ['s1', 's2', 's3'];
    const cluster = track(await LocalCluster.start({ name: 'rolling' }, ids));
    await cluster.allAlive();
    await createSpace(cluster.url('s1'), cluster.urls(), SPACE, DIMENSION, SHARDS);
    // A balancer sends only to ready nodes: the one being restarted is taken out first.
    let restarting: string | undefined;
    const writes = load(() => cluster.upIds.filter((id) => id !== restarting).map((id) => cluster.url(id)), 'rolling');
    await run(2000);
    const marks = cluster.logMarks();
    for (const id of ids) {
      verify.step(`restart ${id}: SIGTERM (drain), start on its data, wait until every node sees it ALIVE`);
      restarting = id;
      await cluster.stop(id);
      await cluster.add(id);
      restarting = undefined;
      await cluster.allAlive(ids);
      await run(1000);
    }
    const report = await writes.stop();
    checkLoad(verify, report, 0.001);
    await checkReadBack(verify, cluster.urls(), report.ids, '0 acknowledged writes lost: every one is read back through every node');
    const failovers = failoverLines(ids.flatMap((id) => cluster.logFrom(id, marks.get(id))));
    verify.check('no failover in the logs', failovers.length === 0, failovers.slice(0, 3).join('; '));
  },

  async 'partition-recovery'(verify, track) {
    const nodes = ['p1', 'p2', 'p3'];
    const runDir = mkdtempSync(join(tmpdir(), 'engram-runbook-partition-'));
    const chaos = track(await ChaosCluster.start({ nodes, clusterName: `runbook${process.pid}`, runDir, replicationFactor: 3, dimension: DIMENSION, space: SPACE, features: schemaFeatures(), nowMs: Date.now }));
    track({ close: () => Promise.resolve(rmSync(runDir, { recursive: true, force: true })), killNow: () => undefined });
    await chaos.startNodes();
    await chaos.whenMembersAlive(60_000);
    await chaos.createSpace(SHARDS, 30_000);
    await chaos.whenWritable(30_000);
    const urls = nodes.map((node) => chaos.process(node).url!);
    const writes = load(() => urls, 'partition');
    await run(2000);
    verify.step('cut p3 off from p1 and p2 (the NATS routes through their fault proxies)');
    const beforeCut = writes.acknowledgedBy();
    chaos.partition([['p1', 'p2'], ['p3']]);
    const partitionedMs = await until(45_000, 'p3 to report PARTITIONED', async () => {
      const { cluster } = await gql<{ cluster: { partitionState: string } }>(urls[2]!, '{ cluster { partitionState } }');
      return cluster.partitionState === 'PARTITIONED' ? null : cluster.partitionState;
    }).catch(() => -1);
    verify.check('the cut-off node reports PARTITIONED', partitionedMs >= 0, `${partitionedMs} ms after the cut`);
    await run(3000);
    const duringCut = writes.acknowledgedBy();
    const minority = (duringCut[urls[2]!] ?? 0) - (beforeCut[urls[2]!] ?? 0);
    const majority = urls.slice(0, 2).reduce((sum, url) => sum + (duringCut[url] ?? 0) - (beforeCut[url] ?? 0), 0);
    verify.check('both sides accepted writes during the cut', minority > 0 && majority > 0, `${majority} on p1+p2, ${minority} on p3`);
    verify.step('heal');
    chaos.heal();
    const connectedMs = await until(30_000, 'every node to report CONNECTED', async () => {
      for (const url of urls) {
        const { cluster } = await gql<{ cluster: { partitionState: string } }>(url, '{ cluster { partitionState } }');
        if (cluster.partitionState !== 'CONNECTED') return `${url}: ${cluster.partitionState}`;
      }
      return null;
    }).catch(() => -1);
    verify.check('every node reports CONNECTED within 30 s of the heal', connectedMs >= 0, `${connectedMs} ms`);
    const report = await writes.stop();
    verify.figures['writes acknowledged'] = report.acknowledged;
    const { missing, tookMs } = await readBack(urls, SPACE, report.ids, 60_000);
    verify.check('every acknowledged write is read back through every node', report.ids.length > 0 && missing === 0, `${report.ids.length} writes, ${missing} reads missing, converged ${tookMs} ms after the load stopped`);
  },

  async 'backup-restore'(verify, track) {
    const source = track(await LocalCluster.start({ name: 'backup' }, ['b1', 'b2', 'b3']));
    await source.allAlive();
    await createSpace(source.url('b1'), source.urls(), SPACE, DIMENSION, SHARDS);
    const writes = load(() => source.urls(), 'backup');
    await run(3000);
    const acknowledgedBefore = writes.acknowledgedIds();
    const file = join(source.dir, 'runbook.backup');
    verify.step(`npm run backup -- --url ${base(source.url('b2'))} --space ${SPACE} --out ${file} (under load)`);
    const backup = await cli('backup', ['--url', base(source.url('b2')), '--space', SPACE, '--out', file]);
    const report = await writes.stop();
    verify.check('the backup finished', backup.code === 0, backup.stderr.trim().split('\n').pop() ?? '');
    if (backup.code !== 0) return;
    const records = readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('{"type":"record"')).map((l) => JSON.parse(l).copy as { record: { id: string; version: unknown; deleted?: boolean }; embedding: string | null });
    const inFile = new Map(records.filter((r) => r.record.deleted !== true).map((r) => [r.record.id, r]));
    const absent = acknowledgedBefore.filter((id) => !inFile.has(id));
    verify.check('every write acknowledged before the backup began is in the file', absent.length === 0, `${acknowledgedBefore.length} acknowledged before, ${inFile.size} in the file, ${report.acknowledged} in all`);
    const target = track(await LocalCluster.start({ name: 'restore' }, ['t1', 't2', 't3']));
    await target.allAlive();
    verify.step(`npm run restore -- --url ${base(target.url('t1'))} --in ${file} into a fresh cluster`);
    const restore = await cli('restore', ['--url', base(target.url('t1')), '--in', file]);
    verify.check('the restore finished', restore.code === 0, restore.stderr.trim().split('\n').pop() ?? '');
    for (const id of target.ids) {
      const held = await contents(target.url(id), SPACE);
      const differ = [...inFile].filter(([key, copy]) => {
        const memory = held.get(key);
        return memory === undefined || JSON.stringify(memory.version) !== JSON.stringify(copy.record.version) || memory.embeddingBase64 !== copy.embedding;
      });
      verify.check(`${id} holds exactly the file's memories, with identical ids, version clocks and embeddings`, held.size === inFile.size && differ.length === 0, `${held.size} held, ${inFile.size} in the file, ${differ.length} differ`);
    }
  },

  async 'disaster-recovery'(verify, track) {
    const ids = ['x1', 'x2', 'x3'];
    const cluster = track(await LocalCluster.start({ name: 'disaster', replicationFactor: 3 }, ids));
    await cluster.allAlive();
    await createSpace(cluster.url('x1'), cluster.urls(), SPACE, DIMENSION, SHARDS);
    const writes = new LightLoad({ targets: () => cluster.urls(), space: SPACE, dimension: DIMENSION, ratePerSecond: RATE, idPrefix: 'disaster', consistency: 'QUORUM' });
    writes.start();
    await run(3000);
    const report = await writes.stop();
    verify.figures['QUORUM writes acknowledged'] = report.acknowledged;
    verify.step('kill -9 x2 and x3 and delete their data directories: two of three copies of every shard are gone');
    for (const id of ['x2', 'x3']) {
      await cluster.kill(id);
      cluster.wipe(id);
    }
    const servedMs = await until(60_000, 'the survivor to serve every acknowledged write', async () => {
      const { missing } = await readBack([cluster.url('x1')], SPACE, report.ids, 5000);
      return missing === 0 ? null : `${missing} missing`;
    }).catch(() => -1);
    verify.check('the surviving copy still serves every acknowledged write', servedMs >= 0, `${report.ids.length} writes, ${servedMs} ms`);
    verify.step('start x2 and x3 again with empty disks');
    await Promise.all(['x2', 'x3'].map((id) => cluster.add(id)));
    const rejoinedMs = await until(90_000, 'the replacements to join', async () => {
      await cluster.allAlive(ids);
      return null;
    }).catch(() => -1);
    verify.check('every node sees 3 ALIVE', rejoinedMs >= 0, `${rejoinedMs} ms`);
    await checkReadBack(verify, cluster.urls(), report.ids, 'every acknowledged write is read back through each node, the replacements included');
  },
};
