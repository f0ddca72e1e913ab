// API keys of one node: the admin key from its file, the key table in RocksDB, the
// authenticator the HTTP edge asks, key administration for the resolvers, and their
// metrics. In cluster mode clusterNode.ts adds the key sync and the owner-side RPC check.

import { readFileSync } from 'node:fs';
import client from 'prom-client';
import type { KeySync } from '../../cluster/auth/keySync.js';
import { Authenticator, type AuthOutcome } from '../auth/authenticator.js';
import { KeyAdmin } from '../auth/keyAdmin.js';
import { KeyTable } from '../auth/keyTable.js';
import type { Config } from '../config.js';
import { BadInputError } from '../errors.js';
import type { KeyValueStore } from '../storage/keyValueStore.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export interface NodeAuth {
  table: KeyTable;
  keys: KeyAdmin;
  /** Set when ENGRAM_AUTH=keys. */
  authenticate: ((authorization: string | undefined) => Promise<AuthOutcome>) | undefined;
}

/** Shortest admin key accepted: 32 characters, 192 bits or more of a random base64 string. */
const MIN_ADMIN_KEY_LENGTH = 32;

export function readAdminKey(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new BadInputError(`ENGRAM_ADMIN_KEY_FILE ${file} cannot be read: ${(error as Error).message}`);
  }
  if (text.length < MIN_ADMIN_KEY_LENGTH || text.length > 512 || /\s/.test(text)) {
    throw new BadInputError(`ENGRAM_ADMIN_KEY_FILE must hold one key of ${MIN_ADMIN_KEY_LENGTH}-512 characters without spaces, for example from: openssl rand -base64 48`);
  }
  return text;
}

export async function openNodeAuth(config: Config, store: KeyValueStore, metrics: Metrics, logger: Logger): Promise<NodeAuth> {
  const settings = config.auth;
  const adminKey = settings.adminKeyFile === undefined ? undefined : readAdminKey(settings.adminKeyFile);
  const overflow = new client.Counter({ name: 'engram_api_keys_refused_total', help: 'Keys from peers or admins refused because the key table is full', registers: [metrics.registry] });
  let authenticator: Authenticator | undefined;
  const table = await KeyTable.open(store, {
    maxApiKeys: settings.maxApiKeys,
    expiredRetentionMs: settings.expiredRetentionMs,
    onChange: (changed) => authenticator?.forget(changed.filter((record) => record.revokedAt !== null).map((record) => record.id)),
    onOverflow: (count) => overflow.inc(count),
  });
  const keys = new KeyAdmin(table, settings, Date.now);
  new client.Gauge({
    name: 'engram_api_keys',
    help: 'API keys in this node\'s table by state',
    labelNames: ['state'] as const,
    registers: [metrics.registry],
    collect() {
      const now = Date.now();
      const counts = { active: 0, revoked: 0, expired: 0 };
      for (const record of table.list()) counts[record.revokedAt !== null ? 'revoked' : record.expiresAt !== null && record.expiresAt <= now ? 'expired' : 'active']++;
      for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
    },
  });
  if (settings.mode === 'off') return { table, keys, authenticate: undefined };
  if (adminKey === undefined && table.size === 0) logger.warn({}, 'ENGRAM_AUTH=keys without ENGRAM_ADMIN_KEY_FILE and no keys yet: no request can be served until a key reaches this node');
  const verifier = new Authenticator({ settings, table, adminKey, nowMs: Date.now });
  authenticator = verifier;
  const outcomes = new client.Counter({ name: 'engram_auth_requests_total', help: 'Requests checked for an API key, by outcome', labelNames: ['outcome'] as const, registers: [metrics.registry] });
  new client.Gauge({
    name: 'engram_auth_verifications',
    help: 'scrypt checks of API keys running and waiting for a slot',
    labelNames: ['state'] as const,
    registers: [metrics.registry],
    collect() {
      const { running, waiting } = verifier.verifications;
      this.set({ state: 'running' }, running);
      this.set({ state: 'waiting' }, waiting);
    },
  });
  const authenticate = async (authorization: string | undefined) => {
    const outcome = await verifier.authenticate(authorization);
    outcomes.inc({ outcome: outcome.ok ? 'ok' : outcome.reason });
    return outcome;
  };
  return { table, keys, authenticate };
}

/** The key sync's counters, read at scrape time. */
export function observeKeySync(metrics: Metrics, sync: KeySync): void {
  new client.Gauge({
    name: 'engram_auth_sync',
    help: 'Key-table sync with peers since start: rounds, failed rounds, records fetched, pushed and refused',
    labelNames: ['kind'] as const,
    registers: [metrics.registry],
    collect() {
      for (const [kind, count] of Object.entries(sync.stats)) this.set({ kind }, count);
    },
  });
}
