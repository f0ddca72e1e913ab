/*
 * JSON answers of the HTTP edge: every refusal the edge makes itself has the GraphQL error
 * shape, `{ errors: [{ message, extensions: { code, ... } }] }`, so a client reads every
 * 4xx and 5xx the same way, whether yoga or the edge produced it.
 *
 * Mechanism. `sendJson` writes through a ServerResponse with exactly one Content-Length.
 * `rawJsonResponse` builds the bytes of a whole HTTP/1.1 response for the few answers
 * written straight onto a socket, where the HTTP parser gave up on a request (malformed,
 * timed out) and no ServerResponse exists.
 */

import { STATUS_CODES, type ServerResponse } from 'node:http';

export interface ErrorBody {
  errors: { message: string; extensions: Record<string, unknown> & { code: string } }[];
}

export function errorBody(message: string, code: string, extensions: Record<string, unknown> = {}): ErrorBody {
  // A message may quote input; a lone surrogate in it would reach strict JSON parsers.
  return { errors: [{ message: message.toWellFormed(), extensions: { code, ...extensions } }] };
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  response.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(payload)) });
  response.end(payload);
}

/** A complete HTTP/1.1 response that closes the connection. */
export function rawJsonResponse(status: number, body: unknown): string {
  const payload = JSON.stringify(body);
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`
  );
}
