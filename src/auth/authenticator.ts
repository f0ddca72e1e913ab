// Turns an Authorization header into an identity. The admin key is compared in constant
// time; any other key is looked up by the id in its token and its secret checked with
// scrypt, once: a token that passed is remembered (bounded), and so is one that failed, so
// only a key's first request pays the hash. Revocation and expiry are read from the key
// table on every request, so the cache never outlives a revocation. scrypt checks run at
// most `maxConcurrentVerifications` at a time with a bounded queue, so a flood of wrong
// keys costs bounded CPU. Each key then spends from its own token bucket.

import { timingSafeEqual } from 'node:crypto';
import { adminIdentity, identityOf, type Identity } from './access.js';
import type { AuthSettings } from './authSettings.js';
import { keyState, parseToken, secretMatches, tokenDigest } from './keyRecord.js';
import type { KeyTable } from './keyTable.js';

export type AuthRefusal = 'missing' | 'invalid' | 'expired' | 'revoked' | 'busy' | 'rate_limited';

export type AuthOutcome =
  | { ok: true; identity: Identity }
  | { ok: false; reason: AuthRefusal; message: string; retryAfterMs?: number; keyId?: string };

const MESSAGES: Record<Exclude<AuthRefusal, 'rate_limited' | 'busy'>, string> = {
  missing: 'This node requires an API key: send Authorization: Bearer <key>',
  invalid: 'The API key is not valid',
  expired: 'The API key has expired',
  revoked: 'The API key has been revoked',
};

/** A map with a size bound that forgets its oldest entry first (insertion order). */
class BoundedMap<V> extends Map<string, V> {
  constructor(private readonly bound: number) {
    super();
  }

  override set(key: string, value: V): this {
    this.delete(key);
    super.set(key, value);
    if (this.size > this.bound) this.delete(this.keys().next().value!);
    return this;
  }
}

/** A token bucket per key: `rate` tokens a second, up to `burst`. */
export class RateLimiter {
  private readonly buckets: BoundedMap<{ tokens: number; atMs: number }>;

  constructor(maxKeys: number) {
    this.buckets = new BoundedMap(maxKeys);
  }

  /** Takes one token; returns 0, or the milliseconds until one is free. */
  take(keyId: string, rate: number, burst: number, nowMs: number): number {
    const bucket = this.buckets.get(keyId) ?? { tokens: burst, atMs: nowMs };
    bucket.tokens = Math.min(burst, bucket.tokens + ((nowMs - bucket.atMs) / 1000) * rate);
    bucket.atMs = nowMs;
    this.buckets.set(keyId, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - bucket.tokens) / rate) * 1000));
  }

  forget(keyId: string): void {
    this.buckets.delete(keyId);
  }
}

export interface AuthenticatorOptions {
  settings: AuthSettings;
  table: KeyTable;
  /** The admin key's token, when ENGRAM_ADMIN_KEY_FILE is set. */
  adminKey: string | undefined;
  nowMs: () => number;
}

export class Authenticator {
  private readonly adminDigest: Buffer | undefined;
  /** Token digest -> key id, for tokens whose secret matched. */
  private readonly verified: BoundedMap<string>;
  /** Token digest -> until when it is known to be wrong. */
  private readonly failed: BoundedMap<number>;
  private readonly limiter: RateLimiter;
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly options: AuthenticatorOptions) {
    const { settings } = options;
    this.adminDigest = options.adminKey === undefined ? undefined : tokenDigest(options.adminKey);
    this.verified = new BoundedMap(settings.maxVerifiedTokens);
    this.failed = new BoundedMap(settings.maxFailedTokens);
    this.limiter = new RateLimiter(settings.maxApiKeys + 1);
  }

  /** Verification slots in use and checks waiting, for metrics. */
  get verifications(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /** Drops what is cached for keys that changed (a revocation), so nothing outlives it. */
  forget(keyIds: Iterable<string>): void {
    const gone = new Set(keyIds);
    for (const [digest, keyId] of this.verified) if (gone.has(keyId)) this.verified.delete(digest);
    for (const keyId of gone) this.limiter.forget(keyId);
  }

  async authenticate(header: string | undefined): Promise<AuthOutcome> {
    const token = bearerToken(header);
    if (token === null) return refusal('missing');
    const digest = tokenDigest(token);
    if (this.adminDigest !== undefined && timingSafeEqual(digest, this.adminDigest)) return { ok: true, identity: adminIdentity };
    const parsed = parseToken(token);
    if (parsed === null) return refusal('invalid');
    const key = digest.toString('base64');
    const now = this.options.nowMs();
    const failedUntil = this.failed.get(key);
    if (failedUntil !== undefined && failedUntil > now) return refusal('invalid');
    const record = this.options.table.get(parsed.id);
    if (record === undefined) return refusal('invalid');
    if (this.verified.get(key) !== record.id) {
      const matched = await this.verify(() => secretMatches(record, parsed.secret));
      if (matched === 'busy') return { ok: false, reason: 'busy', message: 'Too many API keys are being checked at once; retry shortly', retryAfterMs: 100 };
      if (!matched) {
        this.failed.set(key, now + this.options.settings.failedTokenTtlMs);
        return refusal('invalid');
      }
      this.verified.set(key, record.id);
    }
    // Read again: the key may have been revoked while its secret was checked.
    const current = this.options.table.get(parsed.id) ?? record;
    const state = keyState(current, this.options.nowMs());
    if (state !== 'active') return refusal(state, current.id);
    const rate = current.ratePerSecond ?? this.options.settings.defaultRatePerSecond;
    const wait = this.limiter.take(current.id, rate, Math.max(1, rate * this.options.settings.burstSeconds), this.options.nowMs());
    if (wait > 0) return { ok: false, reason: 'rate_limited', message: `The API key ${current.id} is over its rate of ${rate} requests a second`, retryAfterMs: wait, keyId: current.id };
    return { ok: true, identity: identityOf(current) };
  }

  private async verify(check: () => Promise<boolean>): Promise<boolean | 'busy'> {
    const { maxConcurrentVerifications, maxQueuedVerifications } = this.options.settings;
    if (this.running >= maxConcurrentVerifications) {
      if (this.waiting.length >= maxQueuedVerifications) return 'busy';
      // A finishing check hands its slot straight to the next waiter.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    try {
      return await check();
    } finally {
      const next = this.waiting.shift();
      if (next === undefined) this.running--;
      else next();
    }
  }
}

function refusal(reason: Exclude<AuthRefusal, 'rate_limited' | 'busy'>, keyId?: string): AuthOutcome {
  return { ok: false, reason, message: MESSAGES[reason], ...(keyId === undefined ? {} : { keyId }) };
}

/** The token of `Authorization: Bearer <token>`, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer[ \t]+(\S{1,512})[ \t]*$/i.exec(header);
  return match === null ? null : match[1]!;
}
