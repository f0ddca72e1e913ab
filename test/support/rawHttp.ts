// HTTP/1.1 over raw TCP sockets, for requests that fetch() refuses to send (a malformed
// Host, a broken request line, a body that never ends) and for reading headers exactly as
// the server wrote them (duplicates included). Also reads one metric off /metrics.
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  /** Headers in the order sent, names lower-cased, duplicates kept. */
  headers: [string, string][];
  body: string;
  header(name: string): string | undefined;
  /** How many times a header was sent. */
  count(name: string): number;
}

/** One response parsed from the start of `data`, or undefined while it is incomplete (unless `closed`). */
export function parseResponse(data: Buffer, closed: boolean, headOnly = false): RawResponse | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  const headers = lines.map((line): [string, string] => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
  });
  const lengthHeader = headers.find(([name]) => name === 'content-length')?.[1];
  const bodyBytes = data.subarray(end + 4);
  const bodiless = headOnly || status === 204 || status === 304 || (status >= 100 && status < 200);
  if (!bodiless && !closed) {
    if (lengthHeader === undefined || bodyBytes.length < Number(lengthHeader)) return undefined;
  }
  const body = bodiless ? '' : bodyBytes.subarray(0, lengthHeader === undefined ? undefined : Number(lengthHeader)).toString('utf8');
  return {
    status,
    headers,
    body,
    header: (name) => headers.find(([key]) => key === name)?.[1],
    count: (name) => headers.filter(([key]) => key === name).length,
  };
}

export function openSocket(port: number, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Reads one response from `socket`, failing after `withinMs`. */
export function readResponse(socket: Socket, withinMs = 5000, headOnly = false): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    const done = (closed: boolean): boolean => {
      const parsed = parseResponse(data, closed, headOnly);
      if (parsed === undefined) return false;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(parsed);
      return true;
    };
    const onData = (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      done(false);
    };
    const onClose = () => {
      if (!done(true)) {
        clearTimeout(timer);
        reject(new Error(`connection closed before a response: ${JSON.stringify(data.toString('latin1').slice(0, 200))}`));
      }
    };
    const timer = setTimeout(() => {
      socket.off('data', onData);
      socket.off('close', onClose);
      reject(new Error(`no response within ${withinMs} ms: ${JSON.stringify(data.toString('latin1').slice(0, 200))}`));
    }, withinMs);
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', () => {});
  });
}

/** Sends raw request bytes on a new connection and reads one response. */
export async function rawRequest(port: number, request: string | Buffer, options: { withinMs?: number; headOnly?: boolean } = {}): Promise<RawResponse> {
  const socket = await openSocket(port);
  try {
    const response = readResponse(socket, options.withinMs, options.headOnly);
    socket.write(request);
    return await response;
  } finally {
    socket.destroy();
  }
}

/** A JSON POST to /graphql as raw bytes, with the Host header given. */
export function rawGraphqlPost(query: string, host: string, extraHeaders = ''): string {
  const body = JSON.stringify({ query });
  return `POST /graphql HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extraHeaders}Connection: close\r\n\r\n${body}`;
}

/** Sum of a metric's samples on /metrics whose labels include every one given. */
export async function metricValue(graphqlUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(graphqlUrl.replace(/\/graphql$/, '/metrics'))).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/**
 * Whether a JSON response carries a lone surrogate in any string, keys included: JSON
 * text may escape one (`\ud800`), which strict parsers refuse. Non-JSON text is checked as is.
 */
export function carriesLoneSurrogate(text: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return !text.isWellFormed();
  }
  const pending: unknown[] = [parsed];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === 'string') {
      if (!item.isWellFormed()) return true;
    } else if (Array.isArray(item)) {
      pending.push(...item);
    } else if (item !== null && typeof item === 'object') {
      for (const [key, value] of Object.entries(item)) {
        if (!key.isWellFormed()) return true;
        pending.push(value);
      }
    }
  }
  return false;
}
