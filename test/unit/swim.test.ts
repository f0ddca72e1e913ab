// The SWIM + Lifeguard core, driven by messages and ticks, with its directives asserted.
import { describe, expect, it } from 'vitest';
import { defaultMembershipConfig } from '../../cluster/membership/membershipConfig.js';
import { Swim, type Directive, type SwimMessage } from '../../cluster/membership/swim.js';
import { SeededRandom } from '../../cluster/sim/random.js';

const config = { ...defaultMembershipConfig, probeIntervalMs: 100, probeTimeoutMs: 40, pushPullIntervalMs: 1_000_000 };

function core(self: string, others: string[] = []): Swim {
  const random = new SeededRandom(1);
  const swim = new Swim({ self, config, random: () => random.next(), nowMs: 0 });
  swim.onMessage('seed', { v: 1, type: 'sync', reply: false, members: others.map((node) => ({ node, state: 'ALIVE', incarnation: 0 })) }, 0);
  return swim;
}

const sends = (directives: Directive[]) => directives.filter((d): d is Extract<Directive, { type: 'send' }> => d.type === 'send');
const ofType = <T extends SwimMessage['type']>(directives: Directive[], type: T) => sends(directives).filter((d) => d.message.type === type);

/** Ticks every millisecond until `untilMs`, collecting directives. */
function tickUntil(swim: Swim, fromMs: number, untilMs: number): Directive[] {
  const out: Directive[] = [];
  for (let t = fromMs; t <= untilMs; t++) out.push(...swim.onTick(t));
  return out;
}

describe('Swim', () => {
  it('onPing_forSelf_repliesWithAnAckOfTheSameSeq', () => {
    const swim = core('a', ['b']);
    const out = swim.onMessage('b', { v: 1, type: 'ping', seq: 7, target: 'a', updates: [] }, 10);
    expect(ofType(out, 'ack')).toEqual([{ type: 'send', to: 'b', message: expect.objectContaining({ type: 'ack', seq: 7 }) }]);
  });

  it('onTick_whenTheTargetNeverAcks_asksHelpersThenSuspectsAndTellsTheSuspect', () => {
    const swim = core('a', ['b', 'c', 'd', 'e']);
    const out = tickUntil(swim, 0, 400);
    const pings = ofType(out, 'ping');
    expect(pings.length).toBeGreaterThan(0);
    expect(ofType(out, 'ping-req').length).toBeGreaterThanOrEqual(3);
    const suspected = out.filter((d) => d.type === 'memberChanged' && d.state === 'SUSPECT');
    expect(suspected.length).toBeGreaterThan(0);
    const suspect = (suspected[0] as Extract<Directive, { type: 'memberChanged' }>).node;
    // The suspect is told directly, so it can refute early.
    expect(pings.some((p) => p.to === suspect && p.message.type === 'ping' && p.message.updates.some((u) => u.node === suspect && u.state === 'SUSPECT'))).toBe(true);
  });

  it('onAck_forTheCurrentProbe_keepsTheTargetAlive_andReportsTheRoundTrip', () => {
    const swim = core('a', ['b']);
    const first = tickUntil(swim, 0, 100);
    const ping = ofType(first, 'ping')[0]!;
    const seq = (ping.message as Extract<SwimMessage, { type: 'ping' }>).seq;
    const out = swim.onMessage('b', { v: 1, type: 'ack', seq, updates: [] }, 105);
    expect(out.find((d) => d.type === 'probeRtt')).toMatchObject({ target: 'b' });
    expect(tickUntil(swim, 106, 200).some((d) => d.type === 'memberChanged')).toBe(false);
    expect(swim.stateOf('b')).toBe('ALIVE');
  });

  it('onSuspectAboutSelf_refutesWithAHigherIncarnation', () => {
    const swim = core('a', ['b']);
    const out = swim.onMessage('b', { v: 1, type: 'ping', seq: 1, target: 'a', updates: [{ node: 'a', state: 'SUSPECT', incarnation: 0, from: 'b' }] }, 10);
    expect(out).toContainEqual({ type: 'refuted', incarnation: 1 });
    expect(swim.selfIncarnation).toBe(1);
    const ack = ofType(out, 'ack')[0]!.message as Extract<SwimMessage, { type: 'ack' }>;
    expect(ack.updates).toContainEqual(expect.objectContaining({ node: 'a', state: 'ALIVE', incarnation: 1 }));
    expect(swim.awareness).toBe(1);
  });

  it('onLeftAboutSelf_afterARestart_refutesAndTheOthersSeeItAliveAgain', () => {
    // b remembers a's LEFT from a's previous life; a restarted with incarnation 0.
    const b = core('b', ['a']);
    b.onMessage('a', { v: 1, type: 'sync', reply: false, members: [{ node: 'a', state: 'LEFT', incarnation: 1 }] }, 0);
    expect(b.stateOf('a')).toBe('LEFT');
    const a = core('a', ['b']);
    const out = a.onMessage('b', { v: 1, type: 'sync', reply: true, members: [{ node: 'a', state: 'LEFT', incarnation: 1 }, { node: 'b', state: 'ALIVE', incarnation: 0 }] }, 10);
    expect(out).toContainEqual({ type: 'refuted', incarnation: 2 });
    expect(a.awareness).toBe(0);
    b.onMessage('a', { v: 1, type: 'sync', reply: false, members: a.view().map((m) => ({ node: m.node, state: m.state, incarnation: m.incarnation })) }, 20);
    expect(b.stateOf('a')).toBe('ALIVE');
  });

  it('suspicion_endsSoonerWithIndependentConfirmations', () => {
    const deadAt = (confirmers: string[]) => {
      const swim = core('a', ['b', 'c', 'd', 'e', 'f']);
      swim.onMessage('c', { v: 1, type: 'sync', reply: false, members: [{ node: 'b', state: 'SUSPECT', incarnation: 0, from: 'c' }] }, 0);
      for (const from of confirmers) swim.onMessage(from, { v: 1, type: 'sync', reply: false, members: [{ node: 'b', state: 'SUSPECT', incarnation: 0, from }] }, 0);
      for (let t = 0; t < 10_000; t++) {
        for (const d of swim.onTick(t)) if (d.type === 'memberChanged' && d.node === 'b' && d.state === 'DEAD') return t;
      }
      return Number.POSITIVE_INFINITY;
    };
    const alone = deadAt([]);
    const confirmed = deadAt(['d', 'e', 'f']);
    expect(confirmed).toBeLessThan(alone);
    expect(Number.isFinite(alone)).toBe(true);
  });

  it('aliveWithAHigherIncarnation_clearsSuspicion_butAStaleAliveDoesNot', () => {
    const swim = core('a', ['b']);
    swim.onMessage('c', { v: 1, type: 'sync', reply: false, members: [{ node: 'b', state: 'SUSPECT', incarnation: 3, from: 'c' }] }, 0);
    swim.onMessage('c', { v: 1, type: 'sync', reply: false, members: [{ node: 'b', state: 'ALIVE', incarnation: 3 }] }, 1);
    expect(swim.stateOf('b')).toBe('SUSPECT');
    swim.onMessage('b', { v: 1, type: 'sync', reply: false, members: [{ node: 'b', state: 'ALIVE', incarnation: 4 }] }, 2);
    expect(swim.stateOf('b')).toBe('ALIVE');
  });

  it('aDeadRumourAboutAnUnknownNode_doesNotAddIt', () => {
    const swim = core('a', ['b']);
    swim.onMessage('b', { v: 1, type: 'sync', reply: false, members: [{ node: 'ghost', state: 'DEAD', incarnation: 9 }] }, 0);
    expect(swim.stateOf('ghost')).toBeUndefined();
  });

  it('pingReq_relaysThePingAndForwardsTheAck_orAnswersNackWhenTheTargetIsSilent', () => {
    const helper = core('h', ['req', 't']);
    const relayed = helper.onMessage('req', { v: 1, type: 'ping-req', seq: 42, target: 't', updates: [] }, 0);
    const ping = ofType(relayed, 'ping')[0]!;
    expect(ping.to).toBe('t');
    const relaySeq = (ping.message as Extract<SwimMessage, { type: 'ping' }>).seq;
    const forwarded = helper.onMessage('t', { v: 1, type: 'ack', seq: relaySeq, updates: [] }, 5);
    expect(ofType(forwarded, 'ack')).toEqual([{ type: 'send', to: 'req', message: expect.objectContaining({ type: 'ack', seq: 42 }) }]);

    const silent = core('h', ['req', 't']);
    silent.onMessage('req', { v: 1, type: 'ping-req', seq: 43, target: 't', updates: [] }, 0);
    const nacks = ofType(tickUntil(silent, 1, config.probeTimeoutMs + 1), 'nack');
    expect(nacks).toEqual([{ type: 'send', to: 'req', message: { v: 1, type: 'nack', seq: 43 } }]);
  });

  it('leave_announcesLeftWithAHigherIncarnation_andStopsProbing', () => {
    const swim = core('a', ['b', 'c']);
    const out = swim.leave();
    expect(swim.stateOf('a')).toBe('LEFT');
    const syncs = ofType(out, 'sync');
    expect(syncs.length).toBeGreaterThan(0);
    expect((syncs[0]!.message as Extract<SwimMessage, { type: 'sync' }>).members[0]).toMatchObject({ node: 'a', state: 'LEFT', incarnation: 1 });
    expect(tickUntil(swim, 0, 500)).toEqual([]);
  });

  it('join_retriesTheSeedsUntilAMemberIsKnown', () => {
    const random = new SeededRandom(2);
    const swim = new Swim({ self: 'new', config, random: () => random.next(), nowMs: 0 });
    expect(ofType(swim.join(['seed']), 'sync')).toHaveLength(1);
    expect(ofType(tickUntil(swim, 0, 350), 'sync').length).toBeGreaterThanOrEqual(3);
    swim.onMessage('seed', { v: 1, type: 'sync', reply: false, members: [{ node: 'seed', state: 'ALIVE', incarnation: 0 }] }, 351);
    expect(ofType(tickUntil(swim, 352, 700), 'sync')).toHaveLength(0);
  });
});

describe('isEnvelope', () => {
  it('acceptsWellFormedMessages_andRejectsMalformedOnes', async () => {
    const { isEnvelope } = await import('../../cluster/membership/swimShell.js');
    expect(isEnvelope({ from: 'a', message: { v: 1, type: 'ping', seq: 1, target: 'b', updates: [{ node: 'c', state: 'ALIVE', incarnation: 0 }] } })).toBe(true);
    expect(isEnvelope({ from: 'a', message: { v: 1, type: 'sync', reply: true, members: [] } })).toBe(true);
    expect(isEnvelope({ from: 'a', message: { v: 1, type: 'nack', seq: 3 } })).toBe(true);
    for (const bad of [
      null,
      'text',
      { from: 'a' },
      { from: 'a', message: { v: 2, type: 'nack', seq: 1 } },
      { from: 'a', message: { v: 1, type: 'ping', seq: 1, target: 'b' } },
      { from: 'a', message: { v: 1, type: 'ack', seq: 1, updates: [{ node: 'c', state: 'ZOMBIE', incarnation: 0 }] } },
      { from: 'a', message: { v: 1, type: 'sync', reply: 'yes', members: [] } },
      { from: 'a', message: { v: 1, type: 'unknown' } },
    ]) {
      expect(isEnvelope(bad)).toBe(false);
    }
  });
});
