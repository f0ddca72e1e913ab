// GraphiQL works offline: headless Chromium (Debian's package, driven by playwright-core)
// opens /graphql, the page renders from inlined assets with every outside request
// blocked, and a query typed into the editor runs against the node.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../support/node.js';

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
    await page.goto(`${url}?query=${encodeURIComponent(query)}`, { waitUntil: 'load' });
    await page.waitForSelector('.graphiql-container', { timeout: 30_000 });
    expect(await page.title()).toBe('Engram');
    await page.locator('.graphiql-execute-button').click();
    // Monaco renders spaces as no-break spaces.
    const responseText = async () => ((await page.locator('.graphiql-response').textContent()) ?? '').replace(/\u00a0/g, ' ');
    await expect.poll(responseText, { timeout: 20_000 }).toContain('"content": "rendered offline"');
    if (process.env['GRAPHIQL_SCREENSHOT']) await page.screenshot({ path: process.env['GRAPHIQL_SCREENSHOT'] });
    expect(outside).toEqual([]);
  }, 90_000);
});
