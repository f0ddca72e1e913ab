// The deterministic network simulator: links, faults, virtual time and replay by seed.
import { describe, expect, it } from 'vitest';
import { SimNetwork } from '../../cluster/sim/simNetwork.js';
import { RequestTimeoutError, TransportClosedError } from '../../cluster/transport/transport.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

/** Nodes that log what they receive as `node@timeMs:payload`. */
function listen(network: SimNetwork, nodes: readonly string[], subject: string): string[] {
  const log: string[] = [];
  for (const node of nodes) network.transport(node).subscribe(subject, (m) => log.push(`${node}@${network.nowMs.toFixed(3)}:${text(m.data)}`));
  return log;
}

/** A chatty workload: every node broadcasts and requests on timers for `durationMs`. */
async function chatter(seed: number, durationMs: number): Promise<{ hash: string; log: string[]; network: SimNetwork }> {
  const network = new SimNetwork({ seed, link: { loss: 0.1, duplicate: 0.05 }, keepTrace: true });
  const nodes = ['a', 'b', 'c', 'd', 'e'];
  const log = listen(network, nodes, 'test.broadcast');
  for (const node of nodes) {
    const transport = network.transport(node);
    transport.subscribe(`test.echo.${node}`, (m) => m.respond?.(bytes(`echo:${text(m.data)}`)));
  }
  const random = network.randomFor('workload');
  for (let t = 0; t < durationMs; t += 50) {
    network.at(t, () => {
      const from = nodes[random.index(nodes.length)]!;
      const to = nodes[random.index(nodes.length)]!;
      network.transport(from).send('test.broadcast', bytes(`${from}-${t}`));
      network
        .transport(from)
        .request(`test.echo.${to}`, bytes(`${from}-${t}`), { timeoutMs: 100 })
        .then(
          (reply) => log.push(`${from}@${network.nowMs.toFixed(3)}:reply ${text(reply.data)}`),
          (error: Error) => log.push(`${from}@${network.nowMs.toFixed(3)}:${error.name}`),
        );
    });
  }
  await network.runUntil(durationMs + 500);
  return { hash: network.traceHash(), log, network };
}

describe('SimNetwork', () => {
  it('run_withTheSameSeed_producesAnIdenticalTrace_andAnotherSeedDoesNot', async () => {
    const first = await chatter(42, 2000);
    const second = await chatter(42, 2000);
    const other = await chatter(43, 2000);
    expect(second.hash).toBe(first.hash);
    expect(second.log).toEqual(first.log);
    expect(second.network.trace).toEqual(first.network.trace);
    expect(other.hash).not.toBe(first.hash);
    // The workload really exercised loss, duplication, replies and timeouts.
    expect(first.network.stats.lost).toBeGreaterThan(0);
    expect(first.network.stats.duplicated).toBeGreaterThan(0);
    expect(first.log.some((l) => l.includes('reply echo:'))).toBe(true);
    expect(first.log.some((l) => l.includes('RequestTimeoutError'))).toBe(true);
  });

  it('delivery_takesTheLinkLatencyWithinTheJitter', async () => {
    const network = new SimNetwork({ seed: 1, link: { latencyMs: 20, jitterMs: 5 } });
    const times: number[] = [];
    network.transport('b').subscribe('t', () => times.push(network.nowMs));
    for (let i = 0; i < 200; i++) network.at(i * 100, () => network.transport('a').send('t', bytes('x')));
    await network.runUntil(30_000);
    expect(times).toHaveLength(200);
    const delays = times.map((t, i) => t - i * 100);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(15);
    expect(Math.max(...delays)).toBeLessThanOrEqual(25);
    expect(new Set(delays.map((d) => d.toFixed(3))).size).toBeGreaterThan(50);
  });

  it('loss_dropsAboutTheConfiguredShareOfMessages', async () => {
    const network = new SimNetwork({ seed: 7, link: { loss: 0.3 } });
    let received = 0;
    network.transport('b').subscribe('t', () => received++);
    for (let i = 0; i < 5000; i++) network.transport('a').send('t', bytes('x'));
    await network.runFor(1000);
    expect(received / 5000).toBeGreaterThan(0.66);
    expect(received / 5000).toBeLessThan(0.74);
    expect(network.stats.lost).toBe(5000 - received);
  });

  it('partition_blocksAcrossGroupsBothWays_andHealRestoresThem', async () => {
    const network = new SimNetwork({ seed: 3 });
    const log = listen(network, ['a', 'b', 'c'], 't');
    network.partition([['a', 'b'], ['c']]);
    network.transport('a').send('t', bytes('a1'));
    network.transport('c').send('t', bytes('c1'));
    await network.runFor(100);
    expect(log.map((l) => l.replace(/@[\d.]+/, '')).sort()).toEqual(['a:a1', 'b:a1', 'c:c1']);
    network.heal();
    network.transport('c').send('t', bytes('c2'));
    await network.runFor(100);
    expect(log.filter((l) => l.endsWith(':c2')).map((l) => l[0]).sort()).toEqual(['a', 'b', 'c']);
  });

  it('blockOneWay_isAsymmetric', async () => {
    const network = new SimNetwork({ seed: 4 });
    const log = listen(network, ['a', 'b'], 't');
    network.blockOneWay('a', 'b');
    network.transport('a').send('t', bytes('from-a'));
    network.transport('b').send('t', bytes('from-b'));
    await network.runFor(100);
    expect(log.map((l) => l.replace(/@[\d.]+/, '')).sort()).toEqual(['a:from-a', 'a:from-b', 'b:from-b']);
  });

  it('isolate_cutsOneNodeOffFromEveryOther', async () => {
    const network = new SimNetwork({ seed: 5 });
    const log = listen(network, ['a', 'b', 'c'], 't');
    network.isolate('c');
    network.transport('a').send('t', bytes('x'));
    network.transport('c').send('t', bytes('y'));
    await network.runFor(100);
    expect(log.map((l) => l.replace(/@[\d.]+/, '')).sort()).toEqual(['a:x', 'b:x', 'c:y']);
  });

  it('flap_takesTheLinkDownAndUpOnSchedule', async () => {
    const network = new SimNetwork({ seed: 6, link: { latencyMs: 1, jitterMs: 0 } });
    const received: number[] = [];
    network.transport('b').subscribe('t', () => received.push(Math.floor(network.nowMs)));
    network.flap('a', 'b', 100, 3);
    for (let t = 50; t < 700; t += 100) network.at(t, () => network.transport('a').send('t', bytes('x')));
    await network.runUntil(1000);
    // Down during [0,100), [200,300), [400,500); up in between and after.
    expect(received).toEqual([151, 351, 551, 651]);
  });

  it('crash_dropsInFlightMessagesAndSubscriptions_andRestartStartsAFreshLife', async () => {
    const network = new SimNetwork({ seed: 8 });
    const log = listen(network, ['b'], 't');
    network.transport('a').send('t', bytes('before-crash'));
    network.crash('b');
    await network.runFor(100);
    expect(log).toEqual([]);
    expect(() => network.transport('b')).toThrow(/crashed/);
    network.restart('b');
    network.transport('a').send('t', bytes('nobody-listens-yet'));
    await network.runFor(100);
    expect(log).toEqual([]);
    const again = listen(network, ['b'], 't');
    network.transport('a').send('t', bytes('after-restart'));
    await network.runFor(100);
    expect(again.map((l) => l.replace(/@[\d.]+/, ''))).toEqual(['b:after-restart']);
  });

  it('pause_holdsDeliveriesAndTimersUntilResume_inOrder', async () => {
    const network = new SimNetwork({ seed: 9, link: { latencyMs: 10, jitterMs: 0 } });
    const log = listen(network, ['b'], 't');
    network.pause('b');
    network.transport('a').send('t', bytes('one'));
    network.at(50, () => network.transport('a').send('t', bytes('two')));
    const timeout = network
      .transport('b')
      .request('nobody', bytes('?'), { timeoutMs: 20 })
      .catch((error: Error) => `${error.name}@${network.nowMs}`);
    await network.runUntil(1000);
    expect(log).toEqual([]);
    network.resume('b');
    await network.runFor(1);
    expect(log).toEqual(['b@1000.000:one', 'b@1000.000:two']);
    expect(await timeout).toBe('RequestTimeoutError@1000');
  });

  it('request_getsTheReply_orTimesOutWhenTheResponderIsUnreachable', async () => {
    const network = new SimNetwork({ seed: 10, link: { latencyMs: 10, jitterMs: 0 } });
    network.transport('b').subscribe('echo', (m) => m.respond?.(bytes(`echo:${text(m.data)}`), { traceparent: m.headers['traceparent'] ?? '' }));
    const reply = network.transport('a').request('echo', bytes('hi'), { timeoutMs: 100, headers: { traceparent: '00-abc-def-01' } });
    await network.runFor(50);
    const answered = await reply;
    expect(text(answered.data)).toBe('echo:hi');
    expect(answered.headers['traceparent']).toBe('00-abc-def-01');
    expect(network.nowMs).toBe(50);

    network.partition([['a'], ['b']]);
    const lost = network.transport('a').request('echo', bytes('hi'), { timeoutMs: 100 }).catch((error: unknown) => error);
    await network.runFor(200);
    expect(await lost).toBeInstanceOf(RequestTimeoutError);
  });

  it('close_failsPendingRequestsAndLaterCalls', async () => {
    const network = new SimNetwork({ seed: 11 });
    const transport = network.transport('a');
    const pending = transport.request('nobody', bytes('?'), { timeoutMs: 1000 }).catch((error: unknown) => error);
    await transport.close();
    expect(await pending).toBeInstanceOf(TransportClosedError);
    expect(() => transport.send('t', bytes('x'))).toThrow(TransportClosedError);
  });

  it('skew_shiftsOnlyThatNodesClock', async () => {
    const network = new SimNetwork({ seed: 12 });
    network.skew('b', -2500);
    await network.runUntil(10_000);
    expect(network.nodeNow('a')).toBe(10_000);
    expect(network.nodeNow('b')).toBe(7500);
  });

  it('aHandlerThatThrows_doesNotStopDeliveryToOthers', async () => {
    const network = new SimNetwork({ seed: 13 });
    const seen: string[] = [];
    network.transport('b').subscribe('t', () => {
      throw new Error('boom');
    });
    network.transport('b').subscribe('t', (m) => seen.push(text(m.data)));
    network.transport('a').send('t', bytes('still delivered'));
    await network.runFor(100);
    expect(seen).toEqual(['still delivered']);
  });
});
