// The router over a scripted transport: each peer answers, redirects, fails or stays silent
// as a test says, so redirects, retries, the circuit breaker and the UNAVAILABLE answer are
// checked call by call.
import { describe, expect, it } from 'vitest';
import { RemoteError } from '../../cluster/routing/rpc.js';
import { Router } from '../../cluster/routing/router.js';
import { RequestTimeoutError, type MessageHeaders, type Reply, type Transport } from '../../cluster/transport/transport.js';
import { UnavailableError } from '../../src/errors.js';

const CLUSTER = 'routertest';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Answer = { ok: unknown } | { error: Record<string, unknown> } | 'silence';

/** A transport whose peers answer from a script; records every request it sends. */
class ScriptedTransport implements Transport {
  readonly sent: { node: string; op: string; headers: MessageHeaders }[] = [];
  constructor(private readonly answer: (node: string, attempt: number) => Answer) {}

  send(): void {}

  async request(subject: string, data: Uint8Array, options: { timeoutMs: number; headers?: MessageHeaders }): Promise<Reply> {
    const node = subject.split('.').at(-1)!;
    const { op } = JSON.parse(decoder.decode(data)) as { op: string };
    this.sent.push({ node, op, headers: options.headers ?? {} });
    const answer = this.answer(node, this.sent.filter((s) => s.node === node).length);
    if (answer === 'silence') {
      await new Promise((resolve) => setTimeout(resolve, options.timeoutMs));
      throw new RequestTimeoutError(subject, options.timeoutMs);
    }
    return { data: encoder.encode(JSON.stringify(answer)), headers: {} };
  }

  subscribe(): { unsubscribe(): void } {
    return { unsubscribe() {} };
  }

  async close(): Promise<void> {}
}

function router(transport: Transport, options: { resetTimeoutMs?: number } = {}): Router {
  return new Router({
    transport,
    cluster: CLUSTER,
    nodeId: 'n1',
    requestTimeoutMs: 20,
    backoff: { retries: 3, baseMs: 5, maxMs: 20 },
    breaker: { failureThreshold: 5, resetTimeoutMs: options.resetTimeoutMs ?? 5000 },
    local: async (op) => ({ ranLocally: op }),
    random: () => 0.5,
  });
}

describe('Router', () => {
  it('call_onTheLocalNode_runsLocally_withoutSendingAnything', async () => {
    const transport = new ScriptedTransport(() => 'silence');
    expect(await router(transport).call(() => 'n1', 'op.memory', {})).toEqual({ ranLocally: 'op.memory' });
    expect(transport.sent).toEqual([]);
  });

  it('call_followsANotPrimaryRedirect_toThePrimaryItNames', async () => {
    const transport = new ScriptedTransport((node) => (node === 'n2' ? { error: { code: 'NOT_PRIMARY', message: 'no', primary: 'n3', placementVersion: 'v2' } } : { ok: { from: node } }));
    const r = router(transport);
    expect(await r.call(() => 'n2', 'op.remember', {})).toEqual({ from: 'n3' });
    expect(transport.sent.map((s) => s.node)).toEqual(['n2', 'n3']);
    expect(r.stats.redirects).toBe(1);
  });

  it('call_whenTheOwnerNamesNoPrimary_asksForTheOwnerAgain_andReachesTheNewOne', async () => {
    // A stale placement: n2 has handed the shard on but does not know to whom yet.
    const transport = new ScriptedTransport((node) => (node === 'n2' ? { error: { code: 'NOT_PRIMARY', message: 'no', primary: null, placementVersion: 'v2' } } : { ok: { from: node } }));
    let asked = 0;
    const result = await router(transport).call(() => (asked++ === 0 ? 'n2' : 'n3'), 'op.remember', {});
    expect(result).toEqual({ from: 'n3' });
    expect(asked).toBe(2);
  });

  it('call_betweenTwoNodesThatNameEachOther_backsOffAndEndsUnavailable_neverWithTheRawRedirect', async () => {
    // Views still converging: n2 says n3 leads, n3 says n2 does.
    const transport = new ScriptedTransport((node) => ({ error: { code: 'NOT_PRIMARY', message: 'no', primary: node === 'n2' ? 'n3' : 'n2', placementVersion: 'v2' } }));
    const r = router(transport);
    const failure = await r.call(() => 'n2', 'op.memory', {}).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UnavailableError);
    // Three redirects per backoff round, four rounds (the first and three retries).
    expect(transport.sent).toHaveLength(4 * 4);
    expect(r.stats.retries).toBe(3);
  });

  it('call_whenTwoNodesNameEachOtherOnlyForAMoment_reachesThePrimaryAfterABackoff', async () => {
    let settled = false;
    const transport = new ScriptedTransport((node) => (settled && node === 'n3' ? { ok: { from: node } } : { error: { code: 'NOT_PRIMARY', message: 'no', primary: node === 'n2' ? 'n3' : 'n2', placementVersion: 'v2' } }));
    const r = router(transport);
    setTimeout(() => (settled = true), 8);
    expect(await r.call(() => 'n2', 'op.memory', {})).toEqual({ from: 'n3' });
  });

  it('call_afterATimeout_retriesOnTheOwnerNamedNow', async () => {
    const transport = new ScriptedTransport((node) => (node === 'n2' ? 'silence' : { ok: { from: node } }));
    let owner = 'n2';
    const r = router(transport);
    const pending = r.call(() => {
      const now = owner;
      owner = 'n3'; // failover happens while the first attempt waits
      return now;
    }, 'op.memory', {});
    expect(await pending).toEqual({ from: 'n3' });
    expect(r.stats.retries).toBe(1);
  });

  it('call_whenTheOwnerNeverAnswers_failsWithUnavailableAndRetryAfter_afterABoundedNumberOfAttempts', async () => {
    const transport = new ScriptedTransport(() => 'silence');
    const r = router(transport);
    const started = performance.now();
    const error = await r.call(() => 'n2', 'op.memory', {}).catch((e: unknown) => e);
    const elapsedMs = performance.now() - started;
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as UnavailableError).retryAfterMs).toBeGreaterThan(0);
    expect((error as UnavailableError).details['retryAfterMs']).toBe((error as UnavailableError).retryAfterMs);
    // One attempt and three retries, each bounded by the request timeout.
    expect(transport.sent).toHaveLength(4);
    expect(elapsedMs).toBeLessThan(4 * 20 + 3 * 20 + 500);
    expect(r.stats.unavailable).toBe(1);
  });

  it('aSilentPeer_opensItsCircuit_afterWhichCallsFailWithoutSending_andRetryAfterCoversTheReset', async () => {
    const transport = new ScriptedTransport((node) => (node === 'n2' ? 'silence' : { ok: null }));
    const r = router(transport, { resetTimeoutMs: 10_000 });
    await r.call(() => 'n2', 'op.memory', {}).catch(() => undefined); // 4 silent attempts
    await r.call(() => 'n2', 'op.memory', {}).catch(() => undefined); // the 5th opens the circuit
    const sentBefore = transport.sent.length;
    // The second call's retries meet the open circuit and send nothing.
    expect(sentBefore).toBe(5);
    const error = await r.call(() => 'n2', 'op.memory', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(transport.sent.length).toBe(sentBefore);
    expect((error as UnavailableError).retryAfterMs).toBeGreaterThan(9_000);
    // Other peers are unaffected.
    expect(await r.call(() => 'n3', 'op.memory', {})).toBeNull();
  });

  it('aPeerThatAnswersWithErrors_keepsItsCircuitClosed', async () => {
    const transport = new ScriptedTransport(() => ({ error: { code: 'UNAVAILABLE', message: 'claiming', details: { retryAfterMs: 250 } } }));
    const r = router(transport);
    for (let i = 0; i < 3; i++) {
      const error = await r.call(() => 'n2', 'op.remember', {}).catch((e: unknown) => e);
      // The owner's own suggestion is passed on.
      expect((error as UnavailableError).retryAfterMs).toBe(250);
    }
    expect(transport.sent).toHaveLength(12);
  });

  it('nonTransientRemoteErrors_passThroughWithTheirCode_withoutRetrying', async () => {
    const transport = new ScriptedTransport(() => ({ error: { code: 'BAD_USER_INPUT', message: 'embedding has 3 dimensions, the space 4', details: { field: 'embedding' } } }));
    const error = await router(transport).call(() => 'n2', 'op.remember', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as RemoteError).code).toBe('BAD_USER_INPUT');
    expect((error as RemoteError).message).toContain('3 dimensions');
    expect(transport.sent).toHaveLength(1);
  });

  it('callerHeaders_travelWithEveryAttempt', async () => {
    const transport = new ScriptedTransport((node, attempt) => (attempt === 1 ? 'silence' : { ok: node }));
    const headers = { 'x-engram-read': 'replica', tracestate: 'vendor=1' };
    await router(transport).call(() => 'n2', 'op.memory', {}, headers);
    expect(transport.sent).toHaveLength(2);
    for (const sent of transport.sent) expect(sent.headers).toMatchObject(headers);
  });
});
