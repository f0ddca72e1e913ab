// API keys: the merge of key copies is a join (commutative, associative, idempotent, and a
// revocation is never undone), the table's bounds, token parsing, the authenticator's
// caches, verification bound and rate limit, and the owner-side RPC check.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Access, identityOf } from '../../src/auth/access.js';
import { defaultAuthSettings } from '../../src/auth/authSettings.js';
import { Authenticator, bearerToken, RateLimiter } from '../../src/auth/authenticator.js';
import { KeyAdmin } from '../../src/auth/keyAdmin.js';
import { mergeInto, mergeKeyRecord, parseToken, sameRecord, type ApiKeyRecord } from '../../src/auth/keyRecord.js';
import { KeyTable } from '../../src/auth/keyTable.js';
import { KEY_ID_HEADER, rpcGuard } from '../../src/auth/rpcGuard.js';
import { MemoryStore } from '../../src/storage/memoryStore.js';

const settings = { ...defaultAuthSettings, mode: 'keys' as const };

const recordArbitrary = (id: fc.Arbitrary<string>): fc.Arbitrary<ApiKeyRecord> =>
  fc.record({
    id,
    spaces: fc.constantFrom(['aaa'], ['bbb'], ['*'], ['aaa', 'bbb']).map((spaces) => [...spaces]),
    role: fc.constantFrom('READ' as const, 'WRITE' as const, 'ADMIN' as const),
    salt: fc.constantFrom('c2FsdHNhbHQ=', 'b3RoZXJzYWx0'),
    hash: fc.constantFrom('aGFzaGhhc2g=', 'b3RoZXJoYXNo'),
    createdAt: fc.integer({ min: 0, max: 10 }),
    createdBy: fc.constant('admin'),
    expiresAt: fc.option(fc.integer({ min: 100, max: 200 })),
    revokedAt: fc.option(fc.integer({ min: 0, max: 50 })),
    ratePerSecond: fc.option(fc.constantFrom(1, 10)),
  });

const sameId = recordArbitrary(fc.constant('0123456789abcdef'));
const fewIds = recordArbitrary(fc.constantFrom('0123456789abcdef', 'fedcba9876543210', '00000000000000aa'));

function tableOf(records: ApiKeyRecord[]): Map<string, ApiKeyRecord> {
  const table = new Map<string, ApiKeyRecord>();
  mergeInto(table, records);
  return table;
}

function equalTables(a: Map<string, ApiKeyRecord>, b: Map<string, ApiKeyRecord>): boolean {
  return a.size === b.size && [...a].every(([id, record]) => b.has(id) && sameRecord(record, b.get(id)!));
}

describe('key record merge', () => {
  it('is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(sameId, sameId, sameId, (a, b, c) => {
        expect(sameRecord(mergeKeyRecord(a, b), mergeKeyRecord(b, a))).toBe(true);
        expect(sameRecord(mergeKeyRecord(mergeKeyRecord(a, b), c), mergeKeyRecord(a, mergeKeyRecord(b, c)))).toBe(true);
        expect(sameRecord(mergeKeyRecord(a, a), a)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('never undoes a revocation, and keeps the earliest one', () => {
    fc.assert(
      fc.property(sameId, sameId, (a, b) => {
        const merged = mergeKeyRecord(a, b);
        if (a.revokedAt !== null || b.revokedAt !== null) expect(merged.revokedAt).toBe(Math.min(...[a.revokedAt, b.revokedAt].filter((t): t is number => t !== null)));
        else expect(merged.revokedAt).toBeNull();
      }),
    );
  });

  it('converges whatever order and grouping the copies arrive in', () => {
    fc.assert(
      fc.property(fc.array(fewIds, { maxLength: 12 }), fc.integer({ min: 0, max: 12 }), (records, cut) => {
        const whole = tableOf(records);
        const reversed = tableOf([...records].reverse());
        const split = tableOf(records.slice(0, cut));
        mergeInto(split, tableOf(records.slice(cut)).values());
        expect(equalTables(whole, reversed)).toBe(true);
        expect(equalTables(whole, split)).toBe(true);
        const again = tableOf([...whole.values()]);
        mergeInto(again, records);
        expect(equalTables(whole, again)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('tokens', () => {
  it('parses only the tokens Engram issues, and bearer headers', () => {
    expect(parseToken(`egk_0123456789abcdef_${'A'.repeat(43)}`)).toEqual({ id: '0123456789abcdef', secret: 'A'.repeat(43) });
    for (const bad of ['', 'egk_', `egk_0123456789ABCDEF_${'A'.repeat(43)}`, `egk_0123456789abcdef_${'A'.repeat(42)}`, `x${'A'.repeat(60)}`]) expect(parseToken(bad)).toBeNull();
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer  abc ')).toBe('abc');
    for (const bad of [undefined, '', 'Bearer', 'Basic abc', 'Bearer a b', `Bearer ${'x'.repeat(600)}`]) expect(bearerToken(bad)).toBeNull();
  });
});

async function setup(now: { ms: number }, overrides: Partial<typeof settings> = {}) {
  const store = new MemoryStore();
  const tableSettings = { ...settings, ...overrides };
  let authenticator: Authenticator | undefined;
  const table = await KeyTable.open(store, { maxApiKeys: tableSettings.maxApiKeys, expiredRetentionMs: tableSettings.expiredRetentionMs, onChange: (changed) => authenticator?.forget(changed.map((r) => r.id)) });
  authenticator = new Authenticator({ settings: tableSettings, table, adminKey: 'the-admin-key-of-this-unit-test-0123456789', nowMs: () => now.ms });
  const admin = new KeyAdmin(table, tableSettings, () => now.ms);
  return { store, table, authenticator, admin };
}

describe('key table and authenticator', () => {
  it('authenticates the admin key, a created key, and refuses revoked and expired ones', async () => {
    const now = { ms: 1_000_000 };
    const { authenticator, admin, table } = await setup(now);
    expect(await authenticator.authenticate('Bearer the-admin-key-of-this-unit-test-0123456789')).toMatchObject({ ok: true, identity: { admin: true } });
    const { record, token } = await admin.create(Access.open, { spaces: ['aaa'], role: 'WRITE', expiresAt: now.ms + 60_000 });
    expect(await authenticator.authenticate(`Bearer ${token}`)).toMatchObject({ ok: true, identity: { keyId: record.id, role: 'WRITE' } });
    now.ms += 60_000;
    expect(await authenticator.authenticate(`Bearer ${token}`)).toMatchObject({ ok: false, reason: 'expired' });
    const second = await admin.create(Access.open, { spaces: ['aaa'], role: 'READ' });
    expect((await authenticator.authenticate(`Bearer ${second.token}`)).ok).toBe(true);
    // A revocation from a peer goes through the table like a local one.
    await table.apply([{ ...second.record, revokedAt: now.ms }], now.ms);
    expect(await authenticator.authenticate(`Bearer ${second.token}`)).toMatchObject({ ok: false, reason: 'revoked' });
  });

  it('keeps keys across a reopen of the store, as hashes', async () => {
    const now = { ms: 5_000 };
    const { store, admin } = await setup(now);
    const { record, token } = await admin.create(Access.open, { spaces: ['aaa'], role: 'READ' });
    const reopened = await KeyTable.open(store, { maxApiKeys: 10, expiredRetentionMs: 1000 });
    expect(sameRecord(reopened.get(record.id)!, record)).toBe(true);
    expect(JSON.stringify(reopened.list())).not.toContain(token.slice(-43));
  });

  it('refuses new keys past maxApiKeys, and drops keys long expired', async () => {
    const now = { ms: 0 };
    const { admin, table } = await setup(now, { maxApiKeys: 2, expiredRetentionMs: 1000 });
    await admin.create(Access.open, { spaces: ['aaa'], role: 'READ', expiresAt: 500 });
    await admin.create(Access.open, { spaces: ['aaa'], role: 'READ' });
    await expect(admin.create(Access.open, { spaces: ['aaa'], role: 'READ' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    const foreign = { ...table.list()[1]!, id: 'aaaaaaaaaaaaaaaa' };
    expect(await table.apply([foreign], now.ms)).toEqual([]);
    now.ms = 2000;
    expect(await table.prune(now.ms)).toBe(1);
    expect(table.size).toBe(1);
    expect(await table.apply([{ ...foreign, expiresAt: 100 }], now.ms)).toEqual([]);
  });

  it('remembers a wrong secret, so the second try costs no scrypt', async () => {
    const now = { ms: 0 };
    const { authenticator, admin } = await setup(now);
    const { token } = await admin.create(Access.open, { spaces: ['aaa'], role: 'READ' });
    const forged = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    const first = performance.now();
    expect((await authenticator.authenticate(`Bearer ${forged}`)).ok).toBe(false);
    const hashed = performance.now() - first;
    const second = performance.now();
    expect((await authenticator.authenticate(`Bearer ${forged}`)).ok).toBe(false);
    expect(performance.now() - second).toBeLessThan(hashed);
  });

  it('bounds checks in flight: past the queue a check is refused as busy', async () => {
    const now = { ms: 0 };
    const { authenticator, admin } = await setup(now, { maxConcurrentVerifications: 1, maxQueuedVerifications: 1 });
    const { token } = await admin.create(Access.open, { spaces: ['aaa'], role: 'READ' });
    const forged = (i: number) => `${token.slice(0, -2)}${'ABCDEFGH'[i]}${'ABCDEFGH'[i]}`;
    const outcomes = await Promise.all([0, 1, 2, 3].map((i) => authenticator.authenticate(`Bearer ${forged(i)}`)));
    expect(outcomes.filter((o) => !o.ok && o.reason === 'busy').length).toBe(2);
    expect(authenticator.verifications).toEqual({ running: 0, waiting: 0 });
  });

  it('limits each key to its rate, with a burst', () => {
    const limiter = new RateLimiter(10);
    expect([0, 0, 0].map(() => limiter.take('k', 1, 2, 0))).toEqual([0, 0, 1000]);
    expect(limiter.take('k', 1, 2, 500)).toBe(500);
    expect(limiter.take('k', 1, 2, 1000)).toBe(0);
    expect(limiter.take('other', 1, 2, 1000)).toBe(0);
  });
});

describe('owner-side check of forwarded requests', () => {
  it('checks the caller key id again against its own table', async () => {
    const now = { ms: 0 };
    const { admin, table } = await setup(now);
    const { record } = await admin.create(Access.open, { spaces: ['aaa'], role: 'READ' });
    const guard = rpcGuard(table, () => now.ms);
    const headers = { [KEY_ID_HEADER]: record.id };
    expect(() => guard('op.recall', { space: 'aaa' }, headers)).not.toThrow();
    expect(() => guard('op.remember', { space: 'aaa' }, headers)).toThrow(/may not write/);
    expect(() => guard('op.recall', { space: 'bbb' }, headers)).toThrow(/may not read/);
    expect(() => guard('op.recall', { space: 'aaa' }, { [KEY_ID_HEADER]: 'ffffffffffffffff' })).toThrow(/not known/);
    // The cluster's own requests carry no caller.
    expect(() => guard('op.remember', { space: 'bbb' }, {})).not.toThrow();
    await table.apply([{ ...record, revokedAt: 1 }], now.ms);
    expect(() => guard('op.recall', { space: 'aaa' }, headers)).toThrow(/revoked/);
    expect(new Access(identityOf(record)).sees('bbb')).toBe(false);
  });
});
