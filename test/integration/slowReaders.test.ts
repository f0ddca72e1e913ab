// A client that stops reading cannot keep its response in the node's memory: a written
// response must drain within responseDrainTimeoutMs, and when unsent bytes would pass
// maxPendingResponseBytes the response pending longest is cut off. The GraphiQL page
// (about 9 MB uncompressed) is the large response here: more than the kernel's socket
// buffers take, so most of it stays in the process until the client reads.
import type { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { presets } from '../../src/config.js';
import { eventually, Harness } from '../support/node.js';
import { metricValue, openSocket } from '../support/rawHttp.js';

const harness = new Harness();
const sockets: Socket[] = [];
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await harness.cleanup();
});

const PAGE_REQUEST = 'GET /graphql HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\n\r\n';

/** Sends a request for the uncompressed GraphiQL page and never reads the answer. */
async function slowReader(port: number): Promise<Socket> {
  const socket = await openSocket(port);
  sockets.push(socket);
  // Paused, the socket reads nothing, so it never sees the node close it either: the node's
  // gauges tell what the node holds.
  socket.pause();
  socket.on('error', () => {});
  socket.write(PAGE_REQUEST);
  return socket;
}

async function pendingBytes(url: string): Promise<number> {
  return metricValue(url, 'engram_http_pending_response_bytes');
}

describe('slow readers', () => {
  it('aResponseNotTakenInTime_isCutOff_andItsBytesReleased', async () => {
    const node = await harness.startNode({ http: { ...presets.test.http, responseDrainTimeoutMs: 800 } });
    await slowReader(node.port);
    await eventually(5000, async () => expect(await pendingBytes(node.url)).toBeGreaterThan(1_000_000));
    await eventually(5000, async () => expect(await pendingBytes(node.url)).toBe(0));
    expect(await metricValue(node.url, 'engram_http_rejections_total', { reason: 'drain_timeout' })).toBe(1);
    expect((await node.gql('{ cluster { mode } }')).cluster.mode).toBe('EMBEDDED');
  });

  it('overThePendingBudget_theResponsePendingLongestIsCutFirst', async () => {
    const node = await harness.startNode({
      http: { ...presets.test.http, maxResponseBytes: 1024 * 1024, maxPendingResponseBytes: 4 * 1024 * 1024, responseDrainTimeoutMs: 60_000 },
    });
    await slowReader(node.port);
    await eventually(5000, async () => expect(await pendingBytes(node.url)).toBeGreaterThan(1_000_000));
    const onePage = await pendingBytes(node.url);
    const second = await slowReader(node.port);
    await eventually(5000, async () => expect(await metricValue(node.url, 'engram_http_rejections_total', { reason: 'pending_budget' })).toBe(1));
    // The first is cut and its bytes released; the second is all that is held.
    await eventually(5000, async () => expect(await pendingBytes(node.url)).toBeLessThanOrEqual(onePage));
    expect(await pendingBytes(node.url)).toBeGreaterThan(1_000_000);
    // The node still answers others while the second reader holds its response.
    expect((await node.gql('{ cluster { mode } }')).cluster.mode).toBe('EMBEDDED');
    second.destroy();
    await eventually(5000, async () => expect(await pendingBytes(node.url)).toBe(0));
  });
});
