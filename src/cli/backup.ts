// `npm run backup -- --url URL [--space ID] --out FILE [--key KEY | --key-file FILE]`:
// an online backup of one space (or every space the key covers) from a running node or
// cluster, in the format of docs/backup.md. Each shard is read from one RocksDB snapshot on
// the node that leads it; a shard whose session is lost (its primary moved) is read again
// from its start. The file is written as FILE.partial and renamed once its checksum line is
// on disk, so FILE is always a whole backup.

import { appendFileSync, closeSync, createReadStream, createWriteStream, fsyncSync, openSync, renameSync, rmSync, truncateSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { headerText, newChecksum, spaceText } from '../backup/backupFormat.js';
import { AdminClientError, adminRequest, parseAdminFlags, runCommand, type AdminTarget } from './adminClient.js';
import { Progress } from './progress.js';

const USAGE = 'usage: npm run backup -- --url http://host:port [--space ID] --out FILE [--key KEY | --key-file FILE]';
/** Times a shard is read again from its start after its session was lost, before the backup gives up. */
const MAX_SHARD_RESTARTS = 5;
/** Times one page is asked for again after UNAVAILABLE (the node busy, or its primary moving). */
const MAX_PAGE_RETRIES = 10;

interface SpaceInfo {
  id: string;
  dimension: number;
  shards: number;
  memoryCount: number;
  createdAt: string;
}

interface Page {
  seq: number;
  node: string;
  lines: string;
  count: number;
  cursor: string | null;
}

const PAGE = 'query($space: ID!, $shard: Int!, $cursor: String) { backupShard(space: $space, shard: $shard, cursor: $cursor) { seq node lines count cursor } }';

class Output {
  private stream: WriteStream;
  bytes = 0;

  constructor(readonly path: string) {
    this.stream = createWriteStream(path, { flags: 'w' });
  }

  async write(line: string): Promise<void> {
    this.bytes += Buffer.byteLength(line) + 1;
    if (!this.stream.write(`${line}\n`)) await once(this.stream, 'drain');
  }

  /** Cuts the file back to `bytes` (a shard read again from its start). */
  async rewind(bytes: number): Promise<void> {
    await this.close();
    truncateSync(this.path, bytes);
    this.bytes = bytes;
    this.stream = createWriteStream(this.path, { flags: 'a' });
  }

  async close(): Promise<void> {
    this.stream.end();
    await once(this.stream, 'finish');
  }
}

async function pageWithRetries(target: AdminTarget, space: string, shard: number, cursor: string | null): Promise<Page> {
  for (let attempt = 0; ; attempt++) {
    try {
      const { backupShard } = await adminRequest<{ backupShard: Page | null }>(target, PAGE, { space, shard, cursor });
      if (backupShard === null) throw new AdminClientError(`${target.url}: no backup page for ${space}/${shard}`, undefined);
      return backupShard;
    } catch (error) {
      const restart = error instanceof AdminClientError && error.message.includes('start this shard again');
      if (restart || !(error instanceof AdminClientError) || error.code !== 'UNAVAILABLE' || attempt >= MAX_PAGE_RETRIES) throw error;
      await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** attempt)));
    }
  }
}

async function backupShard(target: AdminTarget, out: Output, space: string, shard: number, progress: Progress, counted: { records: number }): Promise<number> {
  const start = out.bytes;
  for (let restart = 0; ; restart++) {
    let records = 0;
    try {
      let page = await pageWithRetries(target, space, shard, null);
      await out.write(JSON.stringify({ type: 'shard', space, shard, seq: page.seq, node: page.node }));
      for (;;) {
        if (page.count > 0) await out.write(page.lines);
        records += page.count;
        progress.update(counted.records + records, out.bytes, `${space} shard ${shard}`);
        if (page.cursor === null) break;
        page = await pageWithRetries(target, space, shard, page.cursor);
      }
      await out.write(JSON.stringify({ type: 'shardEnd', space, shard, records }));
      counted.records += records;
      return records;
    } catch (error) {
      if (restart >= MAX_SHARD_RESTARTS || !(error instanceof AdminClientError) || error.code !== 'UNAVAILABLE') throw error;
      process.stderr.write(`\n${space} shard ${shard}: ${error.message}; reading it again from its start\n`);
      await out.rewind(start);
    }
  }
}

async function fileChecksum(path: string): Promise<string> {
  const hash = newChecksum();
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

runCommand(async () => {
  let space: string | undefined;
  let outPath: string | undefined;
  const target = parseAdminFlags(process.argv.slice(2), USAGE, (flag, value) => {
    if (flag === '--space') space = value();
    else if (flag === '--out') outPath = value();
    else return false;
    return true;
  });
  if (outPath === undefined || outPath.trim() === '') throw new Error(`--out is required\n${USAGE}`);
  const { spaces: listed, cluster } = await adminRequest<{ spaces: SpaceInfo[]; cluster: { self: { id: string } } }>(target, '{ spaces { id dimension shards memoryCount createdAt } cluster { self { id } } }');
  const chosen = space === undefined ? listed : listed.filter((s) => s.id === space);
  if (space !== undefined && chosen.length === 0) throw new AdminClientError(`${target.url}: this key sees no memory space "${space}"`, 'FORBIDDEN');
  const partial = `${outPath}.partial`;
  const out = new Output(partial);
  try {
    const progress = new Progress(chosen.reduce((sum, s) => sum + s.memoryCount, 0));
    const counted = { records: 0 };
    await out.write(headerText(cluster.self.id, chosen.map((s) => s.id), new Date()));
    for (const info of chosen) {
      await out.write(spaceText({ id: info.id, dimension: info.dimension, shards: info.shards, createdAt: Date.parse(info.createdAt), version: {} }));
      for (let shard = 0; shard < info.shards; shard++) await backupShard(target, out, info.id, shard, progress, counted);
    }
    await out.close();
    const sha256 = await fileChecksum(partial);
    appendFileSync(partial, `${JSON.stringify({ type: 'end', spaces: chosen.length, records: counted.records, sha256 })}\n`);
    // The rename makes the file visible only once all of it is on disk.
    const fd = openSync(partial, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(partial, outPath);
    progress.finish(counted.records, out.bytes, `backup of ${chosen.length} space${chosen.length === 1 ? '' : 's'} written to ${outPath}`);
  } catch (error) {
    await out.close().catch(() => undefined);
    rmSync(partial, { force: true });
    throw error;
  }
});
