// Backup and restore over the API. A backup page is read on the node that holds the shard:
// the first page of a shard goes to its primary, which opens a snapshot session
// (backupSessions.ts); later pages go back to the node named in the cursor. A restore
// validates every record of a request against the space before any is written, then merges
// them on each shard's primary as the hand-back path does (QUORUM), which keeps every
// version clock, so a restored memory is the same memory, and a restore repeated is a no-op.

import type { ClusterServices, NodeService } from '../service/nodeService.js';
import type { Access } from '../auth/access.js';
import type { Engine } from '../engine/engine.js';
import type { Orphan } from '../engine/shardSync.js';
import type { LimitSettings } from '../config.js';
import { BadInputError } from '../errors.js';
import type { MessageHeaders } from '../../cluster/transport/transport.js';
import { backupOperations } from '../../cluster/transport/operations.js';
import { recordCopySchema } from './backupFormat.js';
import type { BackupPage, BackupSessions } from './backupSessions.js';

/** Record lines in one restore request; with the body limit this bounds one request's work. */
export const MAX_RESTORE_LINES = 2000;
/** Invalid lines named in one refusal; the count goes on past it. */
const MAX_REPORTED_ERRORS = 20;
/** A forwarded page waits this long: a page is one bounded snapshot read. */
const PAGE_TIMEOUT_MS = 10_000;

export class BackupService {
  constructor(
    private readonly engine: Engine,
    private readonly service: NodeService,
    readonly sessions: BackupSessions,
    private readonly limits: LimitSettings,
    private readonly cluster: ClusterServices | undefined,
  ) {
    cluster?.rpc.handle(backupOperations.page, (body) => {
      const { space, shard, cursor } = body as { space: string; shard: number; cursor: string | null };
      return this.sessions.page(String(space), Number(shard), typeof cursor === 'string' ? cursor : null);
    });
  }

  async page(access: Access, space: string, shard: number, cursor: string | null, headers: MessageHeaders): Promise<BackupPage> {
    access.require(space, 'ADMIN');
    const definition = this.engine.space(space).definition;
    if (!Number.isInteger(shard) || shard < 0 || shard >= definition.shards) throw new BadInputError(`Shard ${shard} is not a shard of "${space}" (it has ${definition.shards})`, { details: { shard } });
    const { node, inner } = cursor === null ? { node: this.ownerOf(space, shard), inner: null } : splitCursor(cursor);
    const page = node === this.engine.nodeId || this.cluster === undefined ? await this.sessions.page(space, shard, inner) : await this.cluster.router.callOnce<BackupPage>(node, backupOperations.page, { space, shard, cursor: inner }, headers, PAGE_TIMEOUT_MS);
    return { ...page, cursor: page.cursor === null ? null : `${page.node}:${page.cursor}` };
  }

  /** Validates every line, then merges them; resolves with how many records the request held. */
  async restore(access: Access, space: string, text: string): Promise<{ space: string; records: number }> {
    access.require(space, 'ADMIN');
    const definition = this.engine.space(space).definition;
    const lines = text.split('\n').filter((line) => line.trim() !== '');
    if (lines.length > MAX_RESTORE_LINES) throw new BadInputError(`A restore request holds at most ${MAX_RESTORE_LINES} records; got ${lines.length}`, { details: { limit: MAX_RESTORE_LINES } });
    const schema = recordCopySchema(this.limits, definition.dimension);
    const errors: { line: number; reason: string }[] = [];
    let invalid = 0;
    const orphans: Orphan[] = [];
    lines.forEach((line, index) => {
      const parsed = parseLine(line, schema);
      if (typeof parsed === 'string') {
        invalid++;
        if (errors.length < MAX_REPORTED_ERRORS) errors.push({ line: index, reason: parsed });
        return;
      }
      // The copying node's label means nothing here; the owner gives its own.
      const record = { ...parsed.record, label: -1 };
      orphans.push({ id: record.id, copy: { record, embedding: parsed.embedding, links: parsed.links }, ...(record.deleted === true ? { deletedVersion: record.version } : {}) });
    });
    if (invalid > 0) throw new BadInputError(`${invalid} of ${lines.length} record lines are invalid; nothing was restored`, { details: { invalid, errors } });
    await this.service.mergeOrphans(space, orphans);
    return { space, records: orphans.length };
  }

  private ownerOf(space: string, shard: number): string {
    return this.cluster === undefined ? this.engine.nodeId : this.cluster.replication.assignment(space, shard).primary;
  }
}

function splitCursor(cursor: string): { node: string; inner: string } {
  const colon = cursor.indexOf(':');
  if (colon <= 0) throw new BadInputError('The backup cursor is not one this cluster issued');
  return { node: cursor.slice(0, colon), inner: cursor.slice(colon + 1) };
}

type CopySchema = ReturnType<typeof recordCopySchema>;

/** A record line's copy, or why it is refused. */
function parseLine(line: string, schema: CopySchema): ReturnType<CopySchema['parse']> | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  const copy = (value as { type?: unknown; copy?: unknown } | null)?.type === 'record' ? (value as { copy: unknown }).copy : value;
  const result = schema.safeParse(copy);
  if (!result.success) return result.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.') || 'record'}: ${issue.message}`).join('; ');
  return result.data;
}
