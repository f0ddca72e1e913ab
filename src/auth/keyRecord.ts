// An API key as every node stores it: who it covers, its role, and a salted scrypt hash of
// its secret (the secret itself is shown once, to the caller that created it, and stored
// nowhere). A key's fields never change after creation except its revocation, so two
// copies of a key merge by keeping the earliest revocation: a join that is commutative,
// associative and idempotent, and under which a revocation can never be undone.

import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

export type ApiKeyRole = 'READ' | 'WRITE' | 'ADMIN' | 'METRICS';
export const API_KEY_ROLES: readonly ApiKeyRole[] = ['READ', 'WRITE', 'ADMIN', 'METRICS'];
/** Stands for every space, present and future; only the admin key may hand it out. */
export const ALL_SPACES = '*';

export interface ApiKeyRecord {
  id: string;
  /** Sorted and unique; `*` covers every space. */
  spaces: string[];
  role: ApiKeyRole;
  /** base64 salt and scrypt hash of the secret. */
  salt: string;
  hash: string;
  createdAt: number;
  /** Key id of the creator, `admin` for the admin key. */
  createdBy: string;
  expiresAt: number | null;
  revokedAt: number | null;
  /** Requests per second on one node; null takes the node's default. */
  ratePerSecond: number | null;
}

const KEY_ID = /^[0-9a-f]{16}$/;
const SPACE = /^([a-z0-9_-]{3,64}|\*)$/;
const TOKEN = /^egk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const TOKEN_PREFIX = 'egk_';

/** Records as they arrive from a peer: checked field by field before they touch the table. */
export const apiKeyRecordSchema = z
  .object({
    id: z.string().regex(KEY_ID),
    spaces: z.array(z.string().regex(SPACE)).min(1).max(1024),
    role: z.enum(['READ', 'WRITE', 'ADMIN', 'METRICS']),
    salt: z.string().min(8).max(128),
    hash: z.string().min(8).max(128),
    createdAt: z.number().finite(),
    createdBy: z.string().min(1).max(64),
    expiresAt: z.number().finite().nullable(),
    revokedAt: z.number().finite().nullable(),
    ratePerSecond: z.number().positive().finite().nullable(),
  })
  .strict();

export function isKeyId(value: unknown): value is string {
  return typeof value === 'string' && KEY_ID.test(value);
}

/** Whether a key is in force at `nowMs`: revocation first, then expiry. */
export function keyState(record: Pick<ApiKeyRecord, 'revokedAt' | 'expiresAt'>, nowMs: number): 'active' | 'revoked' | 'expired' {
  if (record.revokedAt !== null) return 'revoked';
  return record.expiresAt !== null && record.expiresAt <= nowMs ? 'expired' : 'active';
}

/** The same key seen twice: equal fields, and the earliest revocation of the two. */
export function mergeKeyRecord(a: ApiKeyRecord, b: ApiKeyRecord): ApiKeyRecord {
  const revokedAt = a.revokedAt === null ? b.revokedAt : b.revokedAt === null ? a.revokedAt : Math.min(a.revokedAt, b.revokedAt);
  // Copies of one key differ only in revocation; if anything else differs (a corrupt copy),
  // the smaller canonical form wins on every node, so the merge still converges.
  const base = immutableForm(a) <= immutableForm(b) ? a : b;
  return { ...base, spaces: [...base.spaces], revokedAt };
}

function immutableForm(record: ApiKeyRecord): string {
  const { revokedAt: _revoked, ...rest } = record;
  return JSON.stringify([rest.id, rest.spaces, rest.role, rest.salt, rest.hash, rest.createdAt, rest.createdBy, rest.expiresAt, rest.ratePerSecond]);
}

/** Merges `incoming` into `table`; returns the records that changed. */
export function mergeInto(table: Map<string, ApiKeyRecord>, incoming: Iterable<ApiKeyRecord>): ApiKeyRecord[] {
  const changed = new Map<string, ApiKeyRecord>();
  for (const record of incoming) {
    const current = table.get(record.id);
    const merged = current === undefined ? record : mergeKeyRecord(current, record);
    if (current !== undefined && sameRecord(current, merged)) continue;
    table.set(record.id, merged);
    changed.set(record.id, merged);
  }
  return [...changed.values()];
}

export function sameRecord(a: ApiKeyRecord, b: ApiKeyRecord): boolean {
  return a.revokedAt === b.revokedAt && immutableForm(a) === immutableForm(b);
}

// ---- secrets ------------------------------------------------------------------------------

/** scrypt cost: N = 2^14, r = 8, p = 1 (16 MiB, about 40 ms here), as OWASP suggests for scrypt. */
const SCRYPT = { N: 16_384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const HASH_BYTES = 32;

function scrypt(secret: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCallback(secret, salt, HASH_BYTES, SCRYPT, (error, key) => (error === null ? resolve(key) : reject(error))));
}

/** A new key's id, its secret token (shown once), and the salt and hash stored for it. */
export async function newKeySecret(): Promise<{ id: string; token: string; salt: string; hash: string }> {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const salt = randomBytes(16);
  const hash = await scrypt(secret, salt);
  return { id, token: `${TOKEN_PREFIX}${id}_${secret}`, salt: salt.toString('base64'), hash: hash.toString('base64') };
}

/** The key id and secret of a token, or null when it is not one Engram issued. */
export function parseToken(token: string): { id: string; secret: string } | null {
  const match = TOKEN.exec(token);
  return match === null ? null : { id: match[1]!, secret: match[2]! };
}

export async function secretMatches(record: ApiKeyRecord, secret: string): Promise<boolean> {
  const expected = Buffer.from(record.hash, 'base64');
  const actual = await scrypt(secret, Buffer.from(record.salt, 'base64'));
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** A fixed-size digest of a token, for caches and for comparing with the admin key in constant time. */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** What `apiKeys` shows of a record: never its salt or hash. */
export function publicView(record: ApiKeyRecord) {
  return {
    id: record.id,
    spaces: record.spaces,
    role: record.role,
    createdAt: record.createdAt,
    createdBy: record.createdBy,
    expiresAt: record.expiresAt,
    revokedAt: record.revokedAt,
    ratePerSecond: record.ratePerSecond,
  };
}
