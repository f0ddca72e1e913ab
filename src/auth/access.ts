// What a caller may do: the identity a request was authenticated as, and the checks that
// resolvers (on the node a request entered) and the RPC guard (on the owner it was routed
// to) make with it. A key that does not cover a space gets FORBIDDEN whether the space
// exists or not, so a key cannot learn the names of other tenants' spaces.

import { ForbiddenError } from '../errors.js';
import { ALL_SPACES, type ApiKeyRecord, type ApiKeyRole } from './keyRecord.js';

export type Need = 'READ' | 'WRITE' | 'ADMIN';

export interface Identity {
  keyId: string;
  role: ApiKeyRole;
  /** The node's admin key (ENGRAM_ADMIN_KEY_FILE): every space, every operation, no rate limit. */
  admin: boolean;
  /** Covers every space. */
  all: boolean;
  spaces: ReadonlySet<string>;
  expiresAt: number | null;
}

export const ADMIN_KEY_ID = 'admin';

const RANK: Record<ApiKeyRole, number> = { METRICS: 0, READ: 1, WRITE: 2, ADMIN: 3 };

export const adminIdentity: Identity = { keyId: ADMIN_KEY_ID, role: 'ADMIN', admin: true, all: true, spaces: new Set(), expiresAt: null };

export function identityOf(record: ApiKeyRecord): Identity {
  return { keyId: record.id, role: record.role, admin: false, all: record.spaces.includes(ALL_SPACES), spaces: new Set(record.spaces), expiresAt: record.expiresAt };
}

export function covers(identity: Identity, space: string): boolean {
  return identity.all || identity.spaces.has(space);
}

export function allows(identity: Identity, space: string, need: Need): boolean {
  return covers(identity, space) && RANK[identity.role] >= RANK[need];
}

const VERB: Record<Need, string> = { READ: 'read', WRITE: 'write to', ADMIN: 'administer' };

/**
 * The checks one request makes. With authentication off (the embedded default on a
 * loopback address) every check passes; with it on, the edge has already refused a
 * request without a valid key, so `identity` is set.
 */
export class Access {
  static readonly open = new Access(null);

  constructor(readonly identity: Identity | null) {}

  get keyId(): string | null {
    return this.identity?.keyId ?? null;
  }

  /** Throws FORBIDDEN unless the caller may `need` on `space`. */
  require(space: string, need: Need): void {
    const identity = this.identity;
    if (identity === null || allows(identity, space, need)) return;
    throw new ForbiddenError(`This API key may not ${VERB[need]} memory space "${space}"`, { details: { space, keyId: identity.keyId } });
  }

  /** Whether `space` is listed to this caller (in `spaces`). */
  sees(space: string): boolean {
    return this.identity === null || (RANK[this.identity.role] >= RANK.READ && covers(this.identity, space));
  }

  /** Key administration: the admin key, or an ADMIN key within the spaces it covers. */
  requireKeyAdmin(spaces: readonly string[]): void {
    const identity = this.identity;
    if (identity === null || identity.admin) return;
    if (identity.role !== 'ADMIN') throw new ForbiddenError('Managing API keys needs an ADMIN key', { details: { keyId: identity.keyId } });
    for (const space of spaces) {
      if (space === ALL_SPACES ? !identity.all : !covers(identity, space)) {
        throw new ForbiddenError(`This API key may not manage keys for memory space "${space}"`, { details: { space, keyId: identity.keyId } });
      }
    }
  }

  /** Node operations (drain, backup of every space): the admin key or an ADMIN key for every space. */
  requireNodeAdmin(): void {
    const identity = this.identity;
    if (identity === null || identity.admin || (identity.role === 'ADMIN' && identity.all)) return;
    throw new ForbiddenError('This operation needs the admin key or an ADMIN key for every space ("*")', { details: { keyId: identity.keyId } });
  }

  /** Reading /metrics, which names every space. */
  mayReadMetrics(): boolean {
    const identity = this.identity;
    return identity === null || identity.admin || identity.role === 'METRICS' || (identity.role === 'ADMIN' && identity.all);
  }
}

/**
 * What each operation forwarded between nodes needs; the owner checks the caller's key
 * again with it. Operations not listed carry no caller (replication, membership, the catalog).
 */
export const OPERATION_NEEDS: Record<string, Need> = {
  'op.memory': 'READ',
  'op.embedding': 'READ',
  'op.memories': 'READ',
  'op.recall': 'READ',
  'op.read': 'READ',
  'op.counts': 'READ',
  'op.touch': 'READ',
  'op.remember': 'WRITE',
  'op.rememberEpisode': 'WRITE',
  'op.forget': 'WRITE',
  'op.consolidate': 'WRITE',
  'op.writePatterns': 'WRITE',
  'op.merge': 'WRITE',
  'op.createSpace': 'WRITE',
  'op.backupPage': 'ADMIN',
  'op.rememberBatch': 'WRITE',
};
