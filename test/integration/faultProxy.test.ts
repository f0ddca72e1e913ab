// The fault proxy (cluster/chaos/faultProxy.ts) on real sockets: it carries bytes both
// ways, a cut closes every connection and refuses new ones until the heal, a proxy without
// a target refuses like a cut one, added latency delays without reordering, and it reports
// the local ports of its upstream sockets (what a server sees as the remote address).
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultProxy } from '../../cluster/chaos/faultProxy.js';

let echo: Server;
let echoPort: number;
const remotePorts: number[] = [];
const proxies: FaultProxy[] = [];

async function proxyTo(target?: number): Promise<FaultProxy> {
  const proxy = await FaultProxy.start(target);
  proxies.push(proxy);
  return proxy;
}

function connect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sends `text` and resolves with the echo once `text.length` bytes came back; null when the socket closed first. */
function roundTrip(socket: Socket, text: string): Promise<string | null> {
  return new Promise((resolve) => {
    let received = '';
    const onData = (chunk: Buffer) => {
      received += chunk.toString();
      if (received.length >= text.length) {
        socket.off('data', onData);
        resolve(received);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => resolve(null));
    socket.write(text);
  });
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
}

beforeAll(async () => {
  echo = createServer((socket) => {
    if (socket.remotePort !== undefined) remotePorts.push(socket.remotePort);
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as { port: number }).port;
});

afterAll(async () => {
  await Promise.allSettled(proxies.map((proxy) => proxy.close()));
  await new Promise((resolve) => echo.close(resolve));
});

describe('FaultProxy', () => {
  it('carriesBytesBothWays_andReportsItsUpstreamPortAsTheTargetSeesIt', async () => {
    const proxy = await proxyTo(echoPort);
    const socket = await connect(proxy.port);
    expect(await roundTrip(socket, 'hello')).toBe('hello');
    expect([...proxy.upstreamLocalPorts()]).toEqual([remotePorts.at(-1)]);
    socket.destroy();
  });

  it('cut_closesEveryConnectionAndRefusesNewOnes_untilTheHeal', async () => {
    const proxy = await proxyTo(echoPort);
    const socket = await connect(proxy.port);
    expect(await roundTrip(socket, 'a')).toBe('a');
    proxy.cut();
    await closed(socket);
    expect(proxy.upstreamLocalPorts().size).toBe(0);
    const refused = await connect(proxy.port);
    await closed(refused);
    expect(proxy.refused).toBe(1);
    proxy.heal();
    const again = await connect(proxy.port);
    expect(await roundTrip(again, 'b')).toBe('b');
    again.destroy();
  });

  it('withoutATarget_refuses_untilTheTargetIsSet', async () => {
    const proxy = await proxyTo();
    await closed(await connect(proxy.port));
    proxy.setTarget(echoPort);
    const socket = await connect(proxy.port);
    expect(await roundTrip(socket, 'late')).toBe('late');
    socket.destroy();
  });

  it('setLatencyMs_delaysEachDirection_andKeepsTheOrderWhenTheLatencyChanges', async () => {
    const proxy = await proxyTo(echoPort);
    const socket = await connect(proxy.port);
    proxy.setLatencyMs(100);
    const started = performance.now();
    expect(await roundTrip(socket, 'slow')).toBe('slow');
    // Both directions are delayed: there and back.
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    // 'x' waits 200 ms in the proxy; 'y', sent after the latency is gone, must not overtake it.
    proxy.setLatencyMs(200);
    let tail = '';
    const both = new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        tail += chunk.toString();
        if (tail.length >= 2) resolve();
      });
    });
    socket.write('x');
    await new Promise((resolve) => setTimeout(resolve, 50));
    proxy.setLatencyMs(0);
    socket.write('y');
    await both;
    expect(tail).toBe('xy');
    socket.destroy();
  });
});
