// What the shard cores report about themselves, logged and counted for metrics: promotions
// (and those made without a majority of the copies), step-downs, shards left unavailable
// because no copy that may hold them answered, log cuts, snapshot installs and failed steps.

import type { Logger } from '../../src/engine/engine.js';
import type { ShardEvent } from './directives.js';
import { formatEpoch } from './epoch.js';

export class ReplicationEvents {
  promotions = 0;
  snapshotsInstalled = 0;
  truncations = 0;
  minorityClaims = 0;
  unavailableClaims = 0;

  constructor(private readonly logger: Logger) {}

  record(space: string, shard: number, event: ShardEvent): void {
    const logger = this.logger;
    const where = { space, shard };
    switch (event.kind) {
      case 'promoted': {
        this.promotions++;
        if (event.minority) this.minorityClaims++;
        const fields = { ...where, epoch: formatEpoch(event.epoch), lastSeq: event.lastSeq, fenced: event.fenced, source: event.source, minority: event.minority, elapsedMs: event.elapsedMs };
        if (event.minority) logger.warn(fields, 'became primary without a majority of the copies');
        else logger.info(fields, 'became primary');
        break;
      }
      case 'steppedDown':
        logger.info({ ...where, primary: event.primary, reason: event.reason }, 'stepped down as primary');
        break;
      case 'claimRefused':
        if (event.reason.startsWith('no copy')) {
          this.unavailableClaims++;
          logger.warn({ ...where, reason: event.reason }, 'the shard is unavailable');
        }
        break;
      case 'truncated':
        this.truncations++;
        logger.warn({ ...where, toSeq: event.toSeq, handBacks: event.handBacks }, 'cut off log entries of a superseded primary; merging them back');
        break;
      case 'snapshotInstalled':
        this.snapshotsInstalled++;
        logger.info({ ...where, seq: event.seq, source: event.source }, 'installed a shard snapshot');
        break;
      case 'failed':
        logger.warn({ ...where, what: event.what, error: event.error }, 'replication step failed; it is retried');
        break;
      case 'replicated':
        break;
    }
  }
}
