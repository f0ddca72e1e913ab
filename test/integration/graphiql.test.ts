// GraphiQL works offline: headless Chromium (Debian's package, driven by playwright-core)
// opens /graphql, the page renders from inlined assets with every outside request
// blocked, and a query typed into the editor runs against the node. Without a browser:
// the page is served compressed (brotli or gzip by Accept-Encoding) with an ETag, 304 on
// If-None-Match, HEAD, and twenty parallel loads do not hold up a normal query.
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness, type TestNode } from '../support/node.js';

const CHROMIUM = process.env['CHROMIUM_BIN'] ?? '/usr/bin/chromium';
// CI installs Chromium (see .ci/run), so there a missing browser is a failure, not a skip.
const available = existsSync(CHROMIUM) || process.env['CI'] === 'true';

const harness = new Harness();
let browser: Browser | undefined;

afterAll(async () => {
  await browser?.close();
  await harness.cleanup();
});

describe.runIf(available)('GraphiQL in headless Chromium', () => {
  let url: string;
  beforeAll(async () => {
    const node = await harness.startNode();
    url = node.url;
    await node.gql(`mutation { remember(memory: { id: "seen-in-browser", content: "rendered offline" }) { id } }`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  it('graphiql_rendersWithoutInternet_andRunsAQuery', async () => {
    const page = await browser!.newPage();
    const outside: string[] = [];
    await page.route('**/*', (route) => {
      const target = new URL(route.request().url());
      if (target.hostname === '127.0.0.1' || target.protocol === 'data:' || target.protocol === 'blob:') return route.continue();
      outside.push(route.request().url());
      return route.abort();
    });
    // GraphiQL takes the initial query from the URL, which avoids typing into Monaco (it auto-closes brackets).
    const query = '{ memory(id: "seen-in-browser") { content } }';
    const served = await page.goto(`${url}?query=${encodeURIComponent(query)}`, { waitUntil: 'load' });
    await page.waitForSelector('.graphiql-container', { timeout: 30_000 });
    expect(await page.title()).toBe('Engram');
    await page.locator('.graphiql-execute-button').click();
    // Monaco renders spaces as no-break spaces.
    const responseText = async () => ((await page.locator('.graphiql-response').textContent()) ?? '').replace(/\u00a0/g, ' ');
    await expect.poll(responseText, { timeout: 20_000 }).toContain('"content": "rendered offline"');
    expect(served?.headers()['content-encoding']).toBe('br');
    if (process.env['GRAPHIQL_SCREENSHOT']) await page.screenshot({ path: process.env['GRAPHIQL_SCREENSHOT'] });
    expect(outside).toEqual([]);
  }, 90_000);
});

interface PageAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A GET (or HEAD) of the page as a browser sends it, without decompressing the answer. */
function loadPage(url: string, headers: Record<string, string>, method = 'GET'): Promise<PageAnswer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method, headers: { accept: 'text/html,application/xhtml+xml', ...headers } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
    });
    request.on('error', reject);
    request.end();
  });
}

describe('GraphiQL page delivery', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await harness.startNode();
  });

  it('graphiqlPage_isCompressedByAcceptEncoding_withOneEtagPerEncoding', async () => {
    const identity = await loadPage(node.url, {});
    const brotli = await loadPage(node.url, { 'accept-encoding': 'gzip, deflate, br' });
    const gzip = await loadPage(node.url, { 'accept-encoding': 'gzip;q=1, br;q=0.5' });
    expect(identity.headers['content-encoding']).toBeUndefined();
    expect(brotli.headers['content-encoding']).toBe('br');
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(brotliDecompressSync(brotli.body).equals(identity.body)).toBe(true);
    expect(gunzipSync(gzip.body).equals(identity.body)).toBe(true);
    expect(identity.body.toString()).toContain('<title>Engram</title>');
    // About 9 MB as HTML, about 2 MB compressed.
    expect(brotli.body.length).toBeLessThan(identity.body.length / 3);
    expect(gzip.body.length).toBeLessThan(identity.body.length / 3);
    for (const answer of [identity, brotli, gzip]) {
      expect(answer.status).toBe(200);
      expect(answer.headers['vary']).toBe('Accept-Encoding');
      expect(answer.headers['cache-control']).toBe('no-cache');
      expect(Number(answer.headers['content-length'])).toBe(answer.body.length);
    }
    expect(new Set([identity, brotli, gzip].map((answer) => answer.headers['etag'])).size).toBe(3);
  });

  it('graphiqlPage_answers304WithoutBody_whenIfNoneMatchHoldsItsEtag', async () => {
    const first = await loadPage(node.url, { 'accept-encoding': 'br' });
    const etag = String(first.headers['etag']);
    const again = await loadPage(node.url, { 'accept-encoding': 'br', 'if-none-match': `W/"other", ${etag}` });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect(again.headers['etag']).toBe(etag);
    expect(again.headers['content-length']).toBeUndefined();
    const otherEncoding = await loadPage(node.url, { 'accept-encoding': 'gzip', 'if-none-match': etag });
    expect(otherEncoding.status).toBe(200);
  });

  it('graphiqlPage_answersHead_withTheHeadersOfTheGet', async () => {
    const get = await loadPage(node.url, { 'accept-encoding': 'br' });
    const head = await loadPage(node.url, { 'accept-encoding': 'br' }, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect(head.headers['etag']).toBe(get.headers['etag']);
  });

  it('graphiqlPage_twentyParallelLoads_doNotHoldUpANormalQuery', async () => {
    await loadPage(node.url, { 'accept-encoding': 'gzip, br' });
    const loads = Array.from({ length: 20 }, () => loadPage(node.url, { 'accept-encoding': 'gzip, br' }));
    const started = performance.now();
    expect((await node.gql('{ cluster { partitioned } }')).cluster.partitioned).toBe(false);
    const queryMs = performance.now() - started;
    expect((await Promise.all(loads)).every((answer) => answer.status === 200)).toBe(true);
    // Yoga rendered the 9 MB page per request, which held a query for 2.5-7.6 s.
    expect(queryMs).toBeLessThan(1000);
  });
});
