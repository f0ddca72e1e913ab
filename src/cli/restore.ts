// `npm run restore -- --url URL --in FILE [--space ID] [--as NEW_ID] [--merge] [--key KEY | --key-file FILE]`:
// restores a backup file (docs/backup.md) into a running node or cluster. The whole file is
// checked first (checksum, structure, counts); then each space is created with its
// dimension and shards (or must exist empty with the same ones; with --merge, not empty)
// and its records are merged in bounded batches, keeping their version clocks. A restore
// run again with --merge after a failure merges the same records again and changes nothing
// that is already there.

import { forEachRecordBatch, verifyBackupFile, type BackupSummary } from '../backup/backupFile.js';
import { AdminClientError, adminRequest, parseAdminFlags, runCommand, type AdminTarget } from './adminClient.js';
import { Progress } from './progress.js';

const USAGE = 'usage: npm run restore -- --url http://host:port --in FILE [--space ID] [--as NEW_ID] [--merge] [--key KEY | --key-file FILE]';
/** Records per request: within the server's 2,000 and a few hundred milliseconds of merging. */
const BATCH_LINES = 500;
/** Bytes per request: far under the 8 MiB body limit. */
const BATCH_BYTES = 2 * 1024 * 1024;
/** Times a batch is sent again after UNAVAILABLE (a primary moving, a copy out of reach). */
const MAX_BATCH_RETRIES = 10;

interface SpaceInfo {
  id: string;
  dimension: number;
  shards: number;
  memoryCount: number;
}

async function prepareSpace(target: AdminTarget, id: string, definition: BackupSummary['spaces'][number]['definition'], merge: boolean): Promise<void> {
  const { spaces } = await adminRequest<{ spaces: SpaceInfo[] }>(target, '{ spaces { id dimension shards memoryCount } }');
  const existing = spaces.find((s) => s.id === id);
  if (existing === undefined) {
    await adminRequest(target, 'mutation($id: ID!, $dimension: Int, $shards: Int) { createSpace(id: $id, dimension: $dimension, shards: $shards) { id } }', { id, dimension: definition.dimension, shards: definition.shards });
    return;
  }
  if (existing.dimension !== definition.dimension || existing.shards !== definition.shards) {
    throw new AdminClientError(`space "${id}" exists with dimension ${existing.dimension} and ${existing.shards} shards; the backup has ${definition.dimension} and ${definition.shards}. Restore it under another id with --as`, 'BAD_USER_INPUT');
  }
  if (existing.memoryCount > 0 && !merge) throw new AdminClientError(`space "${id}" already holds ${existing.memoryCount} memories; restore into an empty space, under another id with --as, or merge into it with --merge (to finish a restore that stopped)`, 'BAD_USER_INPUT');
}

async function sendBatch(target: AdminTarget, space: string, lines: string[]): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      const { restoreRecords } = await adminRequest<{ restoreRecords: { records: number } | null }>(target, 'mutation($space: ID!, $lines: String!) { restoreRecords(space: $space, lines: $lines) { records } }', { space, lines: lines.join('\n') });
      if (restoreRecords === null) throw new AdminClientError(`${target.url}: the restore answered no result`, undefined);
      return restoreRecords.records;
    } catch (error) {
      if (!(error instanceof AdminClientError) || error.code !== 'UNAVAILABLE' || attempt >= MAX_BATCH_RETRIES) throw error;
      await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** attempt)));
    }
  }
}

runCommand(async () => {
  let inPath: string | undefined;
  let space: string | undefined;
  let as: string | undefined;
  let merge = false;
  const target = parseAdminFlags(process.argv.slice(2), USAGE, (flag, value) => {
    if (flag === '--merge') merge = true;
    else if (flag === '--in') inPath = value();
    else if (flag === '--space') space = value();
    else if (flag === '--as') as = value();
    else return false;
    return true;
  });
  if (inPath === undefined || inPath.trim() === '') throw new Error(`--in is required\n${USAGE}`);
  process.stderr.write(`checking ${inPath}\n`);
  const summary = await verifyBackupFile(inPath);
  const chosen = space === undefined ? summary.spaces : summary.spaces.filter((s) => s.definition.id === space);
  if (chosen.length === 0) throw new Error(`the backup holds no space "${space}"; it holds ${summary.spaces.map((s) => s.definition.id).join(', ') || 'none'}`);
  if (as !== undefined && chosen.length > 1) throw new Error(`--as renames one space; name it with --space (the backup holds ${chosen.length})`);
  process.stderr.write(`backup of ${summary.createdAt} from ${summary.node}: ${summary.records} records in ${summary.spaces.length} spaces; the checksum matches\n`);
  const progress = new Progress(chosen.reduce((sum, s) => sum + s.records, 0));
  let done = 0;
  let bytes = 0;
  for (const entry of chosen) {
    const id = as ?? entry.definition.id;
    await prepareSpace(target, id, entry.definition, merge);
    await forEachRecordBatch(inPath, entry.definition.id, BATCH_LINES, BATCH_BYTES, async (lines) => {
      done += await sendBatch(target, id, lines);
      bytes += lines.reduce((sum, line) => sum + line.length + 1, 0);
      progress.update(done, bytes, `restoring ${id}`);
    });
  }
  progress.finish(done, bytes, `restored ${chosen.length} space${chosen.length === 1 ? '' : 's'}`);
});
