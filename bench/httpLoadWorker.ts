// Worker-thread side of runHttpLoad (bench/httpLoad.ts): runs autocannon (or, with a
// `rate`, a paced open loop) with bodies generated per request and every response
// checked, then posts one summary back.

import autocannon from 'autocannon';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { checkResponse, compileBody } from './bodies.js';
import type { HttpLoadOptions, WorkerReply } from './httpLoad.js';
import { HttpTimeoutError, httpPoster } from './httpPost.js';

interface Tally {
  latencies: number[];
  ok: number;
  non2xx: number;
  graphqlErrors: number;
  badBodies: number;
  socketErrors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  firstError: string | undefined;
  recallIds: (string[] | null)[] | undefined;
}

function checkInto(tally: Tally, status: number, body: string, poolIndex: unknown): void {
  const checked = checkResponse(status, body);
  if (checked.verdict === 'ok') tally.ok++;
  else if (checked.verdict === 'non2xx') tally.non2xx++;
  else if (checked.verdict === 'graphqlError') tally.graphqlErrors++;
  else tally.badBodies++;
  if (checked.verdict !== 'ok') tally.firstError ??= checked.message;
  if (tally.recallIds !== undefined && typeof poolIndex === 'number') tally.recallIds[poolIndex] = checked.recallIds ?? null;
}

async function runOnce(options: HttpLoadOptions, run: { duration?: number; amount?: number }, tally: Tally, seqStart: number): Promise<{ wallSeconds: number; nextSeq: number }> {
  const target = new URL(options.url);
  const makeBody = compileBody(options.body, { pool: options.pool, poolDimension: options.poolDimension, salt: threadId * 7919 + seqStart });
  let seq = seqStart;
  const request: autocannon.Request = {
    method: 'POST',
    path: `${target.pathname}${target.search}`,
    headers: { 'content-type': 'application/json', accept: 'application/json', ...options.headers },
    setupRequest: (req, context) => {
      const generated = makeBody(seq++);
      context.poolIndex = generated.poolIndex;
      req.body = generated.body;
      return req;
    },
    onResponse: (status, body, context) => checkInto(tally, status, body, context.poolIndex),
  };
  const instance = autocannon({
    url: target.origin,
    connections: options.connections,
    timeout: options.timeout ?? 10,
    requests: [request],
    ...(run.amount !== undefined ? { amount: run.amount } : { duration: run.duration ?? 10 }),
  });
  // Throughput over the span from the first send to the last response: autocannon's own
  // clock only ends on its one-second ticks, which distorts short `amount` runs.
  let firstSend = Number.POSITIVE_INFINITY;
  let lastResponse = Number.NEGATIVE_INFINITY;
  instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
    const now = performance.now();
    if (now - responseTimeMs < firstSend) firstSend = now - responseTimeMs;
    lastResponse = now;
    tally.latencies.push(responseTimeMs);
    tally.statusCodes[statusCode] = (tally.statusCodes[statusCode] ?? 0) + 1;
  });
  instance.on('reqError', (error: Error) => {
    tally.firstError ??= `request error: ${error.message}`;
  });
  const result = await instance;
  const wallSeconds = lastResponse > firstSend ? (lastResponse - firstSend) / 1000 : NaN;
  tally.socketErrors += result.errors - result.timeouts;
  tally.timeouts += result.timeouts;
  if (result.timeouts > 0) tally.firstError ??= `${result.timeouts} request timeouts`;
  return { wallSeconds, nextSeq: seq };
}

/**
 * Open loop at `options.rate` requests per second: each timer tick sends what is due by
 * then, whether or not earlier requests were answered, so a slow server does not slow the
 * offered load. Latency runs from the send (including any wait for a free connection).
 */
async function runPaced(options: HttpLoadOptions, rate: number, run: { duration?: number; amount?: number }, tally: Tally, seqStart: number): Promise<{ wallSeconds: number; nextSeq: number }> {
  const makeBody = compileBody(options.body, { pool: options.pool, poolDimension: options.poolDimension, salt: threadId * 7919 + seqStart });
  const timeoutMs = (options.timeout ?? 10) * 1000;
  const poster = httpPoster(options.url, options.connections, timeoutMs);
  const total = run.amount ?? Math.max(1, Math.round(rate * (run.duration ?? 10)));
  let seq = seqStart;
  let sent = 0;
  let settled = 0;
  let lastResponse = Number.NEGATIVE_INFINITY;
  const started = performance.now();
  const send = (): void => {
    const generated = makeBody(seq++);
    const t0 = performance.now();
    poster.post(generated.body).then(
      (reply) => {
        lastResponse = performance.now();
        tally.latencies.push(lastResponse - t0);
        tally.statusCodes[reply.status] = (tally.statusCodes[reply.status] ?? 0) + 1;
        checkInto(tally, reply.status, reply.body, generated.poolIndex);
      },
      (error: unknown) => {
        if (error instanceof HttpTimeoutError) tally.timeouts++;
        else tally.socketErrors++;
        tally.firstError ??= `request error: ${error instanceof Error ? error.message : String(error)}`;
      },
    ).finally(() => settled++);
  };
  try {
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000));
        while (sent < due) {
          sent++;
          send();
        }
        if (settled === total) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
  } finally {
    poster.close();
  }
  return { wallSeconds: lastResponse > started ? (lastResponse - started) / 1000 : NaN, nextSeq: seq };
}

function emptyTally(options: HttpLoadOptions): Tally {
  return {
    latencies: [],
    ok: 0,
    non2xx: 0,
    graphqlErrors: 0,
    badBodies: 0,
    socketErrors: 0,
    timeouts: 0,
    statusCodes: {},
    firstError: undefined,
    recallIds: options.collectRecallIds === true && options.pool !== undefined && options.poolDimension !== undefined
      ? new Array<string[] | null>(options.pool.length / options.poolDimension).fill(null)
      : undefined,
  };
}

async function main(): Promise<void> {
  const options = workerData as HttpLoadOptions;
  const rate = options.rate;
  const runner = (run: { duration?: number; amount?: number }, tally: Tally, seqStart: number) =>
    rate === undefined ? runOnce(options, run, tally, seqStart) : runPaced(options, rate, run, tally, seqStart);
  let seq = 0;
  if (options.warmup !== undefined) seq = (await runner(options.warmup, emptyTally(options), seq)).nextSeq;
  const tally = emptyTally(options);
  const { wallSeconds } = await runner({ duration: options.duration, amount: options.amount }, tally, seq);
  const requests = tally.latencies.length;
  const failed = tally.non2xx + tally.graphqlErrors + tally.badBodies + tally.socketErrors + tally.timeouts;
  const reply: WorkerReply = {
    result: {
      requests,
      wallSeconds,
      requestsPerSecond: requests / wallSeconds,
      latencies: Float64Array.from(tally.latencies),
      ok: tally.ok,
      non2xx: tally.non2xx,
      graphqlErrors: tally.graphqlErrors,
      badBodies: tally.badBodies,
      socketErrors: tally.socketErrors,
      timeouts: tally.timeouts,
      failed,
      statusCodes: tally.statusCodes,
      firstError: tally.firstError,
      ...(tally.recallIds === undefined ? {} : { recallIds: tally.recallIds }),
    },
  };
  parentPort!.postMessage(reply, [reply.result!.latencies.buffer as ArrayBuffer]);
}

main().catch((error: unknown) => {
  parentPort!.postMessage({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies WorkerReply);
});
