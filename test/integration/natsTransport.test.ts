// NatsTransport against a real nats-server: the same contract the simulator satisfies.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsTransport } from '../../cluster/transport/natsTransport.js';
import { RequestTimeoutError, TransportClosedError, type InboundMessage } from '../../cluster/transport/transport.js';
import { startNatsServer, type NatsServer } from '../support/natsServer.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

let server: NatsServer;
const transports: NatsTransport[] = [];

async function open(name: string): Promise<NatsTransport> {
  const transport = await NatsTransport.connect({ servers: [server.url], name });
  transports.push(transport);
  return transport;
}

function nextMessage(transport: NatsTransport, subject: string): Promise<InboundMessage> {
  return new Promise((resolve) => {
    const subscription = transport.subscribe(subject, (message) => {
      subscription.unsubscribe();
      resolve(message);
    });
  });
}

beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await Promise.allSettled(transports.map((t) => t.close()));
  await server?.stop();
});

describe('NatsTransport', () => {
  it('send_deliversToEverySubscriberWithHeaders', async () => {
    const a = await open('a');
    const b = await open('b');
    const c = await open('c');
    const atB = nextMessage(b, 'engram.test.broadcast');
    const atC = nextMessage(c, 'engram.test.broadcast');
    await new Promise((r) => setTimeout(r, 50)); // subscriptions reach the server
    a.send('engram.test.broadcast', bytes('hello'), { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    for (const message of await Promise.all([atB, atC])) {
      expect(text(message.data)).toBe('hello');
      expect(message.headers['traceparent']).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
      expect(message.respond).toBeUndefined();
    }
  });

  it('request_getsTheResponderReplyWithHeaders', async () => {
    const a = await open('req-a');
    const b = await open('req-b');
    b.subscribe('engram.rpc.req-b', (m) => m.respond?.(bytes(`echo:${text(m.data)}`), { traceparent: m.headers['traceparent'] ?? 'none' }));
    await new Promise((r) => setTimeout(r, 50));
    const reply = await a.request('engram.rpc.req-b', bytes('ping'), { timeoutMs: 1000, headers: { traceparent: 'tp-1' } });
    expect(text(reply.data)).toBe('echo:ping');
    expect(reply.headers['traceparent']).toBe('tp-1');
  });

  it('request_withNobodyListening_orNoReplyInTime_isARequestTimeout', async () => {
    const a = await open('to-a');
    await expect(a.request('engram.rpc.nobody', bytes('?'), { timeoutMs: 300 })).rejects.toBeInstanceOf(RequestTimeoutError);
    const b = await open('to-b');
    b.subscribe('engram.rpc.silent', () => undefined);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await expect(a.request('engram.rpc.silent', bytes('?'), { timeoutMs: 300 })).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('aHandlerThatThrows_doesNotStopDelivery', async () => {
    const a = await open('throw-a');
    const b = await open('throw-b');
    const seen: string[] = [];
    b.subscribe('engram.test.throw', (m) => {
      seen.push(text(m.data));
      throw new Error('boom');
    });
    await new Promise((r) => setTimeout(r, 50));
    a.send('engram.test.throw', bytes('1'));
    a.send('engram.test.throw', bytes('2'));
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual(['1', '2']);
  });

  it('connect_withTokenAuthentication_needsTheToken', async () => {
    const guarded = await startNatsServer(['--auth', 's3cret-token']);
    try {
      const ok = await NatsTransport.connect({ servers: [guarded.url], name: 'auth-ok', token: 's3cret-token' });
      await ok.close();
      await expect(NatsTransport.connect({ servers: [guarded.url], name: 'auth-bad', token: 'wrong', connectTimeoutMs: 2000 })).rejects.toThrow();
    } finally {
      await guarded.stop();
    }
  });

  it('maxPayloadBytes_isWhatTheServerAnnounces_soReplicationSizesItsBatchesToIt', async () => {
    expect((await open('default-payload')).maxPayloadBytes).toBe(1024 * 1024);
    const directory = mkdtempSync(join(tmpdir(), 'engram-nats-'));
    const configFile = join(directory, 'nats.conf');
    writeFileSync(configFile, 'max_payload: 65536\n');
    const small = await startNatsServer(['-c', configFile]);
    try {
      const transport = await NatsTransport.connect({ servers: [small.url], name: 'small-payload' });
      expect(transport.maxPayloadBytes).toBe(65536);
      await transport.close();
    } finally {
      await small.stop();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('close_makesLaterCallsFail', async () => {
    const a = await open('closed');
    await a.close();
    expect(() => a.send('engram.test.x', bytes('x'))).toThrow(TransportClosedError);
    await expect(a.request('engram.test.x', bytes('x'), { timeoutMs: 100 })).rejects.toBeInstanceOf(TransportClosedError);
  });
});
