// Worker-thread side of runHttpLoad (bench/httpLoad.ts): runs autocannon (or, with a
// `rate` or `stages`, a paced open loop) with bodies generated per request and every
// response checked, then posts one summary back.

import autocannon from 'autocannon';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { SAMPLE_OUTCOMES, checkResponse, compileBody, type GeneratedBody } from './bodies.js';
import type { HttpLoadOptions, WorkerReply } from './httpLoad.js';
import { HttpTimeoutError, httpPoster } from './httpPost.js';
import { weightedRoundRobin } from '../load/scenarioPlan.js';

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
  samples: { latencyMs: number[]; body: number[]; stage: number[]; outcome: number[] } | undefined;
}

type Outcome = (typeof SAMPLE_OUTCOMES)[number];

function checkInto(tally: Tally, status: number, body: string, poolIndex: unknown): Outcome {
  const checked = checkResponse(status, body);
  if (checked.verdict === 'ok') tally.ok++;
  else if (checked.verdict === 'non2xx') tally.non2xx++;
  else if (checked.verdict === 'graphqlError') tally.graphqlErrors++;
  else tally.badBodies++;
  if (checked.verdict !== 'ok') tally.firstError ??= checked.message;
  if (tally.recallIds !== undefined && typeof poolIndex === 'number') tally.recallIds[poolIndex] = checked.recallIds ?? null;
  return checked.verdict;
}

function sample(tally: Tally, latencyMs: number, body: number, stage: number, outcome: Outcome): void {
  if (tally.samples === undefined) return;
  tally.samples.latencyMs.push(latencyMs);
  tally.samples.body.push(body);
  tally.samples.stage.push(stage);
  tally.samples.outcome.push(SAMPLE_OUTCOMES.indexOf(outcome));
}

type Chosen = GeneratedBody & { mixIndex: number };

/** `body`, or the next entry of `mix` by smooth weighted round robin (exact proportions over any window). */
function bodyChooser(options: HttpLoadOptions, salt: number): (seq: number) => Chosen {
  const env = { pool: options.pool, poolDimension: options.poolDimension };
  if (options.mix === undefined || options.mix.length === 0) {
    if (options.body === undefined) throw new Error('runHttpLoad needs a body or a mix');
    const make = compileBody(options.body, { ...env, salt });
    return (seq) => ({ ...make(seq), mixIndex: 0 });
  }
  const makers = options.mix.map((m, i) => compileBody(m.body, { ...env, salt: salt + i * 104_729 }));
  const next = weightedRoundRobin(options.mix.map((m) => m.weight));
  return (seq) => {
    const index = next();
    return { ...makers[index]!(seq), mixIndex: index };
  };
}

async function runOnce(options: HttpLoadOptions, run: { duration?: number; amount?: number }, tally: Tally, seqStart: number): Promise<{ wallSeconds: number; nextSeq: number }> {
  const target = new URL(options.url);
  const makeBody = bodyChooser(options, threadId * 7919 + seqStart);
  let seq = seqStart;
  // autocannon calls onResponse and then, synchronously, emits 'response' with the latency.
  let pending: { body: number; outcome: Outcome } | undefined;
  const request: autocannon.Request = {
    method: 'POST',
    path: `${target.pathname}${target.search}`,
    headers: { 'content-type': 'application/json', accept: 'application/json', ...options.headers },
    setupRequest: (req, context) => {
      const generated = makeBody(seq++);
      context.poolIndex = generated.poolIndex;
      context.mixIndex = generated.mixIndex;
      req.body = generated.body;
      return req;
    },
    onResponse: (status, body, context) => {
      const outcome = checkInto(tally, status, body, context.poolIndex);
      pending = { body: typeof context.mixIndex === 'number' ? context.mixIndex : 0, outcome };
    },
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
    if (pending !== undefined) sample(tally, responseTimeMs, pending.body, 0, pending.outcome);
    pending = undefined;
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

/** What a paced run sends: `total` requests, `due(ms)` of them by `ms` after the start. */
interface Schedule {
  total: number;
  due(ms: number): number;
  /** Stage index of the n-th request (0-based). */
  stageOf(n: number): number;
}

function steadySchedule(rate: number, run: { duration?: number; amount?: number }): Schedule {
  const total = run.amount ?? Math.max(1, Math.round(rate * (run.duration ?? 10)));
  return { total, due: (ms) => Math.min(total, Math.floor((ms * rate) / 1000)), stageOf: () => 0 };
}

/** Stages back to back; a request belongs to the stage in which it falls due. */
function stagedSchedule(stages: readonly { duration: number; rate: number }[]): Schedule {
  const ends: number[] = [];
  let cumulative = 0;
  for (const stage of stages) {
    if (!(stage.duration >= 0) || !(stage.rate > 0)) throw new RangeError(`stage needs a duration >= 0 and a rate > 0, got ${JSON.stringify(stage)}`);
    cumulative += stage.rate * stage.duration;
    ends.push(cumulative);
  }
  const total = Math.max(1, Math.round(cumulative));
  return {
    total,
    due: (ms) => {
      let seconds = ms / 1000;
      let count = 0;
      for (const stage of stages) {
        const within = Math.min(seconds, stage.duration);
        count += within * stage.rate;
        seconds -= within;
        if (seconds <= 0) break;
      }
      return Math.min(total, Math.floor(count + 1e-9));
    },
    stageOf: (n) => {
      for (let k = 0; k < ends.length; k++) if (n + 1 <= ends[k]! + 1e-9) return k;
      return ends.length - 1;
    },
  };
}

/**
 * Open loop on a schedule (a steady `options.rate`, or `options.stages`): each timer tick
 * sends what is due by then, whether or not earlier requests were answered, so a slow server
 * does not slow the offered load. Latency runs from the send (including any wait for a free
 * connection).
 */
async function runPaced(options: HttpLoadOptions, schedule: Schedule, tally: Tally, seqStart: number): Promise<{ wallSeconds: number; nextSeq: number }> {
  const makeBody = bodyChooser(options, threadId * 7919 + seqStart);
  const timeoutMs = (options.timeout ?? 10) * 1000;
  const poster = httpPoster(options.url, options.connections, timeoutMs);
  const total = schedule.total;
  let seq = seqStart;
  let sent = 0;
  let settled = 0;
  let lastResponse = Number.NEGATIVE_INFINITY;
  const started = performance.now();
  const send = (stage: number): void => {
    const generated = makeBody(seq++);
    const t0 = performance.now();
    poster.post(generated.body).then(
      (reply) => {
        lastResponse = performance.now();
        tally.latencies.push(lastResponse - t0);
        tally.statusCodes[reply.status] = (tally.statusCodes[reply.status] ?? 0) + 1;
        const outcome = checkInto(tally, reply.status, reply.body, generated.poolIndex);
        sample(tally, lastResponse - t0, generated.mixIndex, stage, outcome);
      },
      (error: unknown) => {
        const timedOut = error instanceof HttpTimeoutError;
        if (timedOut) tally.timeouts++;
        else tally.socketErrors++;
        tally.firstError ??= `request error: ${error instanceof Error ? error.message : String(error)}`;
        sample(tally, performance.now() - t0, generated.mixIndex, stage, timedOut ? 'timeout' : 'socketError');
      },
    ).finally(() => settled++);
  };
  try {
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const due = schedule.due(performance.now() - started);
        while (sent < due) send(schedule.stageOf(sent++));
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
    samples: options.keepSamples === true ? { latencyMs: [], body: [], stage: [], outcome: [] } : undefined,
  };
}

async function main(): Promise<void> {
  const options = workerData as HttpLoadOptions;
  const stages = options.stages !== undefined && options.stages.length > 0 ? options.stages : undefined;
  const rate = stages?.[0]?.rate ?? options.rate;
  const runner = (run: { duration?: number; amount?: number }, tally: Tally, seqStart: number) =>
    rate === undefined ? runOnce(options, run, tally, seqStart) : runPaced(options, steadySchedule(rate, run), tally, seqStart);
  let seq = 0;
  if (options.warmup !== undefined) seq = (await runner(options.warmup, emptyTally(options), seq)).nextSeq;
  const tally = emptyTally(options);
  const { wallSeconds } =
    stages === undefined ? await runner({ duration: options.duration, amount: options.amount }, tally, seq) : await runPaced(options, stagedSchedule(stages), tally, seq);
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
      ...(tally.samples === undefined
        ? {}
        : {
            samples: {
              latencyMs: Float64Array.from(tally.samples.latencyMs),
              body: Uint8Array.from(tally.samples.body),
              stage: Uint8Array.from(tally.samples.stage),
              outcome: Uint8Array.from(tally.samples.outcome),
            },
          }),
    },
  };
  const samples = reply.result!.samples;
  const transfer = [reply.result!.latencies.buffer, ...(samples === undefined ? [] : [samples.latencyMs.buffer, samples.body.buffer, samples.stage.buffer, samples.outcome.buffer])];
  parentPort!.postMessage(reply, transfer as ArrayBuffer[]);
}

main().catch((error: unknown) => {
  parentPort!.postMessage({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies WorkerReply);
});
