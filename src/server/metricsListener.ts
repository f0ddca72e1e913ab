// A listener of its own for /metrics (ENGRAM_METRICS_ADDR), so that with API keys on,
// Prometheus can scrape a private address without a key while the GraphQL port requires
// one. It answers GET and HEAD of /metrics and nothing else.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorBody, sendJson } from './jsonResponse.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** Same header and request deadlines as the main edge's defaults: a scrape is one small request. */
const SCRAPE_TIMEOUT_MS = 10_000;

export function startMetricsListener(address: string, metrics: Metrics, logger: Logger): Promise<Server> {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(colon + 1));
  const server = createServer({ headersTimeout: SCRAPE_TIMEOUT_MS, requestTimeout: SCRAPE_TIMEOUT_MS }, (request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics') return sendJson(response, 404, errorBody('This address serves only /metrics', 'NOT_FOUND'));
    if (request.method !== 'GET' && request.method !== 'HEAD') return sendJson(response, 405, errorBody('/metrics answers GET and HEAD', 'BAD_USER_INPUT'), { allow: 'GET, HEAD' });
    metrics.registry.metrics().then(
      (text) => {
        response.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': String(Buffer.byteLength(text)) });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'metrics could not be collected');
        sendJson(response, 500, errorBody('Metrics could not be collected', 'INTERNAL_SERVER_ERROR'));
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      logger.info({ metrics: `http://${address.slice(0, colon)}:${(server.address() as AddressInfo).port}/metrics` }, 'metrics listening on their own address');
      resolve(server);
    });
  });
}
