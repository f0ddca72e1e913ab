// The GraphQL client of the operator commands (drain, backup, restore): a node's URL
// (`http://host:port`, with or without /graphql), an API key from --key, --key-file or
// ENGRAM_KEY, and errors that name the node and the GraphQL code.

import { readFileSync } from 'node:fs';
import { walkFlags } from '../cliFlags.js';

/** Longest wait for one answer; a drain waits for its own bound (ENGRAM_DRAIN_TIMEOUT_MS, at most 600 s) inside it. */
export const REQUEST_TIMEOUT_MS = 660_000;

export interface AdminTarget {
  url: string;
  key: string | undefined;
}

export class AdminClientError extends Error {
  constructor(message: string, readonly code: string | undefined) {
    super(message);
  }
}

/** `http://host:port` or `.../graphql` to the GraphQL endpoint. */
export function graphqlUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`--url must be http://host:port, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`--url must be http:// or https://, got "${raw}"`);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/graphql';
  return url.toString();
}

/** Parses flags: the common --url, --key and --key-file, and the command's own through `own`. */
export function parseAdminFlags(argv: readonly string[], usage: string, own: (flag: string, value: () => string | undefined) => boolean): AdminTarget {
  let url: string | undefined;
  let key = process.env['ENGRAM_KEY'];
  walkFlags(argv, (flag, value) => {
    const need = () => {
      const raw = value();
      if (raw === undefined || raw.trim() === '') throw new Error(`${flag} needs a value\n${usage}`);
      return raw;
    };
    if (flag === '--url') url = graphqlUrl(need());
    else if (flag === '--key') key = need();
    else if (flag === '--key-file') key = readFileSync(need(), 'utf8').trim();
    else if (!own(flag, value)) throw new Error(`unknown flag ${flag}\n${usage}`);
  });
  if (url === undefined) throw new Error(`--url is required\n${usage}`);
  return { url, key };
}

/** Runs one operation; its data, or an AdminClientError with the first error's message and code. */
export async function adminRequest<T>(target: AdminTarget, query: string, variables: Record<string, unknown> = {}, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
  if (target.key !== undefined) headers['authorization'] = `Bearer ${target.key}`;
  let response: Response;
  try {
    response = await fetch(target.url, { method: 'POST', headers, body: JSON.stringify({ query, variables }), signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new AdminClientError(`${target.url} did not answer: ${error instanceof Error ? error.message : String(error)}`, undefined);
  }
  const text = await response.text();
  let body: { data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new AdminClientError(`${target.url} answered HTTP ${response.status} without JSON: ${text.slice(0, 200)}`, undefined);
  }
  const first = body.errors?.[0];
  if (first !== undefined) throw new AdminClientError(`${target.url}: ${first.message}`, first.extensions?.code);
  if (!response.ok || body.data == null) throw new AdminClientError(`${target.url} answered HTTP ${response.status} with no data`, undefined);
  return body.data;
}

/** Runs a command's main, printing its error and exiting 1 (2 for usage errors). */
export function runCommand(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(error instanceof AdminClientError ? 1 : 2);
    },
  );
}
