// Slow and greedy clients cannot take the node: 1,100 sockets that declare a body and send
// a byte do not hold the request slots, so a normal query still answers in under 100 ms;
// Node's header and request timeouts and the body idle timeout close them with a 408 JSON
// answer; the buffered-body budget and the connection bound refuse what is over them.
// These runs use short timeouts; ENGRAM_SLOW_TESTS=1 adds the 30-second run with the
// default timeouts.
import type { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { presets, type Config } from '../../src/config.js';
import { eventually, Harness, type TestNode } from '../support/node.js';
import { metricValue, openSocket, parseResponse, readResponse } from '../support/rawHttp.js';

const harness = new Harness();
const sockets: Socket[] = [];
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await harness.cleanup();
});

const SLOW_SOCKETS = 1100;

function httpSettings(overrides: Partial<Config['http']>): Config['http'] {
  return { ...presets.test.http, ...overrides };
}

/** Opens `count` sockets in batches, each sending `head` (and remembered for cleanup). */
async function openMany(port: number, count: number, head: string): Promise<Socket[]> {
  const opened: Socket[] = [];
  for (let start = 0; start < count; start += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, count - start) }, () => openSocket(port)));
    for (const socket of batch) {
      socket.on('error', () => {});
      socket.write(head);
    }
    opened.push(...batch);
    sockets.push(...batch);
  }
  return opened;
}

/** A declared 100 kB body of which one byte is sent. */
const SLOW_BODY_HEAD = 'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{';

/** Times `count` sequential normal queries (each on a fresh connection), in ms. */
async function normalQueryTimes(node: TestNode, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const response = await fetch(node.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ query: '{ memory(id: "seed") { id content } }' }),
    });
    const body = (await response.json()) as { data?: { memory: { id: string } } };
    times.push(performance.now() - started);
    expect(response.status).toBe(200);
    expect(body.data?.memory.id).toBe('seed');
  }
  return times;
}

/** Waits until every socket has been answered and closed by the server; resolves with each answer's status. */
function answersOf(opened: Socket[], withinMs: number): Promise<number[]> {
  return Promise.all(
    opened.map(
      (socket) =>
        new Promise<number>((resolve, reject) => {
          let data = Buffer.alloc(0);
          const timer = setTimeout(() => reject(new Error(`socket not closed by the server within ${withinMs} ms`)), withinMs);
          socket.on('data', (chunk: Buffer) => (data = Buffer.concat([data, chunk])));
          socket.once('close', () => {
            clearTimeout(timer);
            const parsed = parseResponse(data, true);
            if (parsed !== undefined) expect(JSON.parse(parsed.body).errors[0].extensions.code).toBe('BAD_USER_INPUT');
            resolve(parsed?.status ?? 0);
          });
        }),
    ),
  );
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

describe('slow bodies do not take the request slots', () => {
  it('answers a normal query in under 100 ms while 1,100 sockets each hold a body of which one byte was sent, then times them out with 408', async () => {
    const node = await harness.startNode({
      http: httpSettings({ bodyIdleTimeoutMs: 3000, requestTimeoutMs: 4500, headersTimeoutMs: 2000, connectionsCheckIntervalMs: 250 }),
    });
    await node.gql('mutation { remember(memory: { id: "seed", content: "a normal memory" }) { id } }');
    const idle = await openMany(node.port, SLOW_SOCKETS - 100, SLOW_BODY_HEAD);
    // These keep sending, a byte at a time, so only the whole-request timeout ends them.
    const trickling = await openMany(node.port, 100, SLOW_BODY_HEAD);
    const trickle = setInterval(() => {
      for (const socket of trickling) if (!socket.destroyed) socket.write(' ');
    }, 500);
    // And these never finish their headers.
    const slowHeaders = await openMany(node.port, 20, 'POST /graphql HTTP/1.1\r\nHost: x\r\n');
    try {
      await eventually(10_000, async () => {
        if ((await metricValue(node.url, 'engram_http_buffered_body_bytes')) < SLOW_SOCKETS) throw new Error('slow bodies not all read yet');
      });
      const idleAnswers = answersOf(idle, 10_000);
      const tricklingAnswers = answersOf(trickling, 12_000);
      const headerAnswers = answersOf(slowHeaders, 10_000);
      // All 1,100 bodies are open while these run: the idle timeout is 3 s away.
      const times = await normalQueryTimes(node, 10);
      expect(await metricValue(node.url, 'engram_http_open_connections')).toBeGreaterThanOrEqual(SLOW_SOCKETS);
      // The slow bodies hold no request slot.
      expect(await metricValue(node.url, 'engram_http_in_flight_requests')).toBe(0);
      if (process.env['ENGRAM_REPORT_TIMES'] === '1') console.log(`normal query ms during ${SLOW_SOCKETS} slow bodies: ${times.map((t) => t.toFixed(1)).join(' ')}`);
      // Nine in ten under 100 ms: one scheduling hiccup on a shared 2-core machine is not the defect (which was 503s for 300 s).
      expect(times.filter((ms) => ms < 100).length).toBeGreaterThanOrEqual(9);
      expect(Math.max(...times)).toBeLessThan(1000);

      expect(new Set(await idleAnswers)).toEqual(new Set([408]));
      expect(new Set(await tricklingAnswers)).toEqual(new Set([408]));
      expect(new Set(await headerAnswers)).toEqual(new Set([408]));
      expect(await metricValue(node.url, 'engram_http_rejections_total', { reason: 'body_idle' })).toBe(SLOW_SOCKETS - 100);
      expect(await metricValue(node.url, 'engram_http_client_errors_total', { reason: 'timeout' })).toBe(120);
      expect(await metricValue(node.url, 'engram_http_buffered_body_bytes')).toBe(0);
      expect(await metricValue(node.url, 'engram_http_aborted_requests_total')).toBe(0);
    } finally {
      clearInterval(trickle);
    }
  }, 60_000);

  it.runIf(process.env['ENGRAM_SLOW_TESTS'] === '1')(
    'answers normal queries in under 100 ms throughout 30 s of 1,100 sockets trickling bodies, with the default timeouts',
    async () => {
      const node = await harness.startNode();
      await node.gql('mutation { remember(memory: { id: "seed", content: "a normal memory" }) { id } }');
      const held = await openMany(node.port, SLOW_SOCKETS, SLOW_BODY_HEAD);
      // A byte every 5 s stays inside the 10 s body idle timeout; 30 s is inside the 60 s request timeout.
      const trickle = setInterval(() => {
        for (const socket of held) if (!socket.destroyed) socket.write(' ');
      }, 5000);
      try {
        const times: number[] = [];
        const until = Date.now() + 30_000;
        while (Date.now() < until) {
          times.push(...(await normalQueryTimes(node, 1)));
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        expect(held.every((socket) => !socket.destroyed)).toBe(true);
        const sorted = [...times].sort((a, b) => a - b);
        if (process.env['ENGRAM_REPORT_TIMES'] === '1') {
          console.log(`${times.length} normal queries over 30 s of ${SLOW_SOCKETS} trickling bodies: median ${median(times).toFixed(1)} ms, p95 ${sorted[Math.floor(times.length * 0.95)]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`);
        }
        expect(median(times)).toBeLessThan(100);
        expect(sorted[Math.floor(times.length * 0.95)]).toBeLessThan(100);
        expect(sorted.at(-1)).toBeLessThan(1000);
      } finally {
        clearInterval(trickle);
        for (const socket of held) socket.destroy();
      }
    },
    120_000,
  );
});

describe('bounds on buffered bodies and open connections', () => {
  it('refuses a body that would pass the buffered-bytes budget with 503 UNAVAILABLE and retryAfterMs, and counts it', async () => {
    const node = await harness.startNode({
      limits: { ...presets.test.limits, maxBodyBytes: 64 * 1024 },
      http: httpSettings({ maxBufferedBodyBytes: 128 * 1024 }),
    });
    const head = `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${64 * 1024}\r\n\r\n`;
    const [first, second] = await openMany(node.port, 2, head);
    first!.write('x'.repeat(60 * 1024));
    second!.write('x'.repeat(60 * 1024));
    await eventually(5000, async () => {
      if ((await metricValue(node.url, 'engram_http_buffered_body_bytes')) < 120 * 1024) throw new Error('bodies not buffered yet');
    });
    const [third] = await openMany(node.port, 1, head);
    const answer = readResponse(third!);
    third!.write('x'.repeat(20 * 1024));
    const response = await answer;
    expect(response.status).toBe(503);
    const error = JSON.parse(response.body).errors[0];
    expect(error.extensions.code).toBe('UNAVAILABLE');
    expect(error.extensions.retryAfterMs).toBeGreaterThan(0);
    expect(response.header('retry-after')).toBe('1');
    expect(await metricValue(node.url, 'engram_http_rejections_total', { reason: 'body_budget' })).toBe(1);
    expect(await metricValue(node.url, 'engram_http_buffered_body_bytes')).toBe(120 * 1024);
    first!.destroy();
    second!.destroy();
    await eventually(5000, async () => {
      if ((await metricValue(node.url, 'engram_http_buffered_body_bytes')) !== 0) throw new Error('bytes not released yet');
    });
    expect((await node.gql('{ cluster { partitioned } }')).cluster.partitioned).toBe(false);
  });

  it('closes connections beyond the maximum on accept, counts them, and serves again once the others go', async () => {
    const node = await harness.startNode({ http: httpSettings({ maxConnections: 50, maxInFlightRequests: 10 }) });
    const held = await openMany(node.port, 50, '');
    const extra = await openMany(node.port, 10, '');
    const closed = await Promise.all(extra.map((socket) => new Promise<boolean>((resolve) => (socket.destroyed ? resolve(true) : socket.once('close', () => resolve(true))))));
    expect(closed.every(Boolean)).toBe(true);
    for (const socket of held) socket.destroy();
    await eventually(5000, async () => {
      if ((await metricValue(node.url, 'engram_http_dropped_connections_total')) < 10) throw new Error('drops not counted yet');
    });
    expect((await node.gql('{ cluster { partitioned } }')).cluster.partitioned).toBe(false);
  });
});
