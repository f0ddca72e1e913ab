// Key administration behind createApiKey, revokeApiKey and apiKeys: validation, the
// caller's right to manage the keys in question, the write to this node's table, and the
// push of the change to every reachable node (the key sync repairs any node it misses).

import { validateSpaceId } from '../engine/validation.js';
import { BadInputError, NotFoundError } from '../errors.js';
import { ADMIN_KEY_ID, type Access } from './access.js';
import type { AuthSettings } from './authSettings.js';
import { ALL_SPACES, API_KEY_ROLES, newKeySecret, type ApiKeyRecord, type ApiKeyRole } from './keyRecord.js';
import type { KeyTable } from './keyTable.js';

export interface NewKeyInput {
  spaces: readonly string[];
  role: ApiKeyRole;
  /** Epoch ms (the DateTime scalar's value). */
  expiresAt?: number | null;
  ratePerSecond?: number | null;
}

/** Sends changed records to the other nodes; resolves when they answered or timed out. */
export type KeyPublisher = (records: readonly ApiKeyRecord[]) => Promise<void>;

export class KeyAdmin {
  /** Set in cluster mode, once the key sync runs. */
  publisher: KeyPublisher | undefined;

  constructor(
    private readonly table: KeyTable,
    private readonly settings: AuthSettings,
    private readonly nowMs: () => number,
  ) {}

  async create(access: Access, input: NewKeyInput): Promise<{ record: ApiKeyRecord; token: string }> {
    const spaces = this.spacesOf(input.spaces);
    if (!API_KEY_ROLES.includes(input.role)) throw new BadInputError(`Unknown role ${String(input.role)}`, { details: { field: 'role' } });
    if (input.role === 'METRICS') {
      if (spaces[0] !== ALL_SPACES) throw new BadInputError('A METRICS key reads /metrics, which names every space: give spaces: ["*"]', { details: { field: 'spaces' } });
      access.requireNodeAdmin();
    } else access.requireKeyAdmin(spaces);
    const now = this.nowMs();
    const expiresAt = input.expiresAt ?? null;
    if (expiresAt !== null && expiresAt <= now) throw new BadInputError('expiresAt must be in the future', { details: { field: 'expiresAt' } });
    const callerExpiry = access.identity?.expiresAt ?? null;
    // A key made by an expiring key expires no later than it.
    const bounded = callerExpiry === null ? expiresAt : Math.min(expiresAt ?? callerExpiry, callerExpiry);
    const rate = input.ratePerSecond ?? null;
    if (rate !== null && !(rate > 0 && rate <= this.settings.maxRatePerSecond)) {
      throw new BadInputError(`ratePerSecond must be above 0 and at most ${this.settings.maxRatePerSecond}`, { details: { field: 'ratePerSecond' } });
    }
    if (this.table.size >= this.settings.maxApiKeys) {
      throw new BadInputError(`The key table holds its limit of ${this.settings.maxApiKeys} keys; revoked keys count until they expire`, { details: { limit: 'apiKeys', maxApiKeys: this.settings.maxApiKeys } });
    }
    const secret = await newKeySecret();
    const record: ApiKeyRecord = {
      id: secret.id,
      spaces,
      role: input.role,
      salt: secret.salt,
      hash: secret.hash,
      createdAt: now,
      createdBy: access.keyId ?? ADMIN_KEY_ID,
      expiresAt: bounded,
      revokedAt: null,
      ratePerSecond: rate,
    };
    await this.table.apply([record], now);
    await this.publisher?.([record]);
    return { record, token: secret.token };
  }

  async revoke(access: Access, id: string): Promise<boolean> {
    const record = this.table.get(id);
    if (record === undefined) {
      const hint = id === ADMIN_KEY_ID ? '; the admin key is changed by replacing ENGRAM_ADMIN_KEY_FILE and restarting' : '';
      throw new NotFoundError(`No API key with id "${id.slice(0, 64)}"${hint}`, { details: { field: 'id' } });
    }
    access.requireKeyAdmin(record.spaces);
    if (record.revokedAt !== null) return true;
    const now = this.nowMs();
    const [revoked] = await this.table.apply([{ ...record, revokedAt: now }], now);
    await this.publisher?.([revoked ?? { ...record, revokedAt: now }]);
    return true;
  }

  /** The keys the caller may manage: all of them for the admin key. */
  list(access: Access): ApiKeyRecord[] {
    return this.table.list().filter((record) => {
      try {
        access.requireKeyAdmin(record.spaces);
        return true;
      } catch {
        return false;
      }
    });
  }

  private spacesOf(input: readonly string[]): string[] {
    if (!Array.isArray(input) || input.length === 0) throw new BadInputError('A key needs at least one space, or "*" for every space', { details: { field: 'spaces' } });
    if (input.length > this.settings.maxSpacesPerKey) {
      throw new BadInputError(`A key names at most ${this.settings.maxSpacesPerKey} spaces`, { details: { field: 'spaces', limit: 'spacesPerKey' } });
    }
    if (input.includes(ALL_SPACES)) return [ALL_SPACES];
    return [...new Set(input.map((space) => validateSpaceId(space)))].sort();
  }
}
