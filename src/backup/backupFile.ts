// Reading a backup file: one pass that checks the checksum and the structure (every line
// parses, records sit inside their space and shard, the counts add up) before anything is
// restored, and one that hands the record lines of each space over in bounded batches.

import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { endLine, headerLine, newChecksum, shardEndLine, shardLine, spaceLine, type SpaceLine } from './backupFormat.js';

export interface BackupSummary {
  createdAt: string;
  node: string;
  spaces: { definition: SpaceLine['definition']; records: number; shards: { shard: number; seq: number; node: string; records: number }[] }[];
  records: number;
}

export class BackupFileError extends Error {}

async function* lines(path: string): AsyncGenerator<string> {
  const reader = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of reader) yield line;
}

function parseJson(line: string, number: number): { type?: unknown } {
  try {
    return JSON.parse(line) as { type?: unknown };
  } catch {
    throw new BackupFileError(`line ${number}: not JSON`);
  }
}

function check<T>(schema: { safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } }, value: unknown, number: number): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new BackupFileError(`line ${number}: ${result.error.issues.slice(0, 2).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return result.data;
}

/** Checks the whole file; resolves with what it holds, or rejects with the first problem. */
export async function verifyBackupFile(path: string): Promise<BackupSummary> {
  const hash = newChecksum();
  let number = 0;
  let summary: BackupSummary | undefined;
  let space: BackupSummary['spaces'][number] | undefined;
  let shard: BackupSummary['spaces'][number]['shards'][number] | undefined;
  let ended = false;
  for await (const line of lines(path)) {
    number++;
    if (ended) throw new BackupFileError(`line ${number}: data after the end line`);
    const value = parseJson(line, number);
    if (number === 1) {
      const header = check(headerLine, value, number);
      summary = { createdAt: header.createdAt, node: header.node, spaces: [], records: 0 };
    } else if (value.type === 'end') {
      const end = check(endLine, value, number);
      if (shard !== undefined) throw new BackupFileError(`line ${number}: shard ${shard.shard} of ${space?.definition.id} has no shardEnd`);
      if (end.sha256 !== hash.digest('hex')) throw new BackupFileError('the checksum does not match: the file is damaged or incomplete');
      if (end.records !== summary!.records || end.spaces !== summary!.spaces.length) throw new BackupFileError(`line ${number}: the end line counts ${end.records} records in ${end.spaces} spaces, the file holds ${summary!.records} in ${summary!.spaces.length}`);
      ended = true;
      continue;
    } else if (value.type === 'space') {
      if (shard !== undefined) throw new BackupFileError(`line ${number}: a space begins inside a shard`);
      space = { definition: check(spaceLine, value, number).definition, records: 0, shards: [] };
      summary!.spaces.push(space);
    } else if (value.type === 'shard') {
      const begun = check(shardLine, value, number);
      if (space === undefined || begun.space !== space.definition.id || shard !== undefined || begun.shard >= space.definition.shards) throw new BackupFileError(`line ${number}: a shard out of place`);
      shard = { shard: begun.shard, seq: begun.seq, node: begun.node, records: 0 };
    } else if (value.type === 'record') {
      if (shard === undefined) throw new BackupFileError(`line ${number}: a record outside a shard`);
      shard.records++;
    } else if (value.type === 'shardEnd') {
      const end = check(shardEndLine, value, number);
      if (shard === undefined || end.shard !== shard.shard || end.records !== shard.records) throw new BackupFileError(`line ${number}: the shard's record count does not match`);
      space!.shards.push(shard);
      space!.records += shard.records;
      summary!.records += shard.records;
      shard = undefined;
    } else {
      throw new BackupFileError(`line ${number}: unknown line type ${JSON.stringify(value.type)}`);
    }
    hash.update(`${line}\n`);
  }
  if (summary === undefined) throw new BackupFileError('the file is empty');
  if (!ended) throw new BackupFileError('the file has no end line: the backup did not finish');
  return summary;
}

/** Hands over the record lines of `space`, in batches of at most `maxLines` lines and `maxBytes` bytes. */
export async function forEachRecordBatch(path: string, space: string, maxLines: number, maxBytes: number, batch: (lines: string[]) => Promise<void>): Promise<void> {
  let inside = false;
  let pending: string[] = [];
  let bytes = 0;
  for await (const line of lines(path)) {
    const value = JSON.parse(line) as { type?: unknown; definition?: { id?: unknown } };
    if (value.type === 'space') inside = value.definition?.id === space;
    if (!inside || value.type !== 'record') continue;
    if (pending.length > 0 && (pending.length >= maxLines || bytes + line.length + 1 > maxBytes)) {
      await batch(pending);
      pending = [];
      bytes = 0;
    }
    pending.push(line);
    bytes += line.length + 1;
  }
  if (pending.length > 0) await batch(pending);
}
