// POSTs over kept-alive node:http connections, for the load generators that pace or
// sequence requests themselves. Lighter per request than fetch, so the client adds less
// to what is measured; kept free of server imports so worker threads load it cheaply.

import { Agent, request } from 'node:http';

export interface HttpReply {
  status: number;
  body: string;
}

export class HttpTimeoutError extends Error {
  constructor(ms: number) {
    super(`no response within ${ms} ms`);
  }
}

export interface HttpPoster {
  post(body: string): Promise<HttpReply>;
  close(): void;
}

/** At most `maxSockets` connections to `url`; further requests queue in the agent. */
export function httpPoster(url: string, maxSockets = 1, timeoutMs = 10_000, extraHeaders: Record<string, string> = {}): HttpPoster {
  const agent = new Agent({ keepAlive: true, maxSockets });
  const target = new URL(url);
  const post = (body: string): Promise<HttpReply> =>
    new Promise((resolve, reject) => {
      const req = request(
        target,
        { method: 'POST', agent, headers: { ...extraHeaders, 'content-type': 'application/json', accept: 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new HttpTimeoutError(timeoutMs)));
      req.on('error', reject);
      req.end(body);
    });
  return { post, close: () => agent.destroy() };
}
