// Test harness: Engram nodes on temporary RocksDB directories and free ports, reached
// over real HTTP. In-process nodes for most tests; child processes where a test must
// kill -9 the node. Everything started here is stopped by `cleanup()`, even on failure.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { presets, type Config } from '../../src/config.js';
import { startNode, type EngramNode } from '../../src/server/app.js';
import { createLogger } from '../../src/server/logger.js';

export const repoRoot = resolve(import.meta.dirname, '../..');

export interface GraphqlResponse<T = any> {
  status: number;
  body: { data?: T; errors?: { message: string; extensions?: Record<string, any>; path?: string[] }[] };
}

export function temporaryDirectory(prefix = 'engram-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function postGraphql<T = any>(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<GraphqlResponse<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  let body: GraphqlResponse<T>['body'];
  try {
    body = JSON.parse(text) as GraphqlResponse<T>['body'];
  } catch {
    throw new Error(`Non-JSON response (${response.status}): ${text.slice(0, 200)}`);
  }
  return { status: response.status, body };
}

/** Data of a response that must have succeeded. */
export async function gqlData<T = any>(url: string, query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<T> {
  const response = await postGraphql<T>(url, query, variables, headers);
  if (response.body.errors !== undefined || response.status !== 200) {
    throw new Error(`GraphQL failed (${response.status}): ${JSON.stringify(response.body.errors)}`);
  }
  return response.body.data as T;
}

export type TestNode = EngramNode & {
  gql<T = any>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<T>;
  post<T = any>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphqlResponse<T>>;
};

export class Harness {
  private readonly directories: string[] = [];
  private readonly nodes: EngramNode[] = [];
  private readonly children: ChildProcess[] = [];

  directory(): string {
    const directory = temporaryDirectory();
    this.directories.push(directory);
    return directory;
  }

  async startNode(overrides: Partial<Config> = {}): Promise<TestNode> {
    const config: Config = { ...presets.test, dataDir: overrides.dataDir ?? this.directory(), ...overrides };
    const node = await startNode(config, createLogger('silent'));
    this.nodes.push(node);
    const bound = {
      gql: <T = any>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>) => gqlData<T>(node.url, query, variables, headers),
      post: <T = any>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>) => postGraphql<T>(node.url, query, variables, headers),
    };
    return Object.assign(node, bound);
  }

  /** Starts `npm start`'s entry point as a child process; resolves with its GraphQL URL. */
  async spawnNode(dataDir: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string; logs: string[] }> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server/main.ts'], {
      cwd: repoRoot,
      // A short drain bound: tests often stop every node at once, when a drain has nobody to hand off to.
      env: { ...process.env, ENGRAM_DATA_DIR: dataDir, ENGRAM_PORT: '0', ENGRAM_LOG_LEVEL: 'info', ENGRAM_DRAIN_TIMEOUT_MS: '5000', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.push(child);
    const logs: string[] = [];
    const url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`node did not start in 30 s:\n${logs.join('\n')}`)), 30_000);
      let buffered = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          logs.push(line);
          if (line.includes('"engram node ready"')) {
            clearTimeout(timer);
            resolveUrl((JSON.parse(line) as { url: string }).url);
          }
        }
      });
      child.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`node exited early (${code ?? signal}):\n${logs.join('\n')}`));
      });
    });
    return { child, url, logs };
  }

  async cleanup(): Promise<void> {
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await Promise.allSettled(this.nodes.map((node) => node.close()));
    for (const directory of this.directories) rmSync(directory, { recursive: true, force: true });
  }
}

export function waitForExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolveExit) => child.once('exit', (code, signal) => resolveExit({ code, signal })));
}

/** A deterministic unit vector pointing mostly along axis `axis`. */
export function axisVector(dimension: number, axis: number, wobble = 0): number[] {
  const vector = new Array<number>(dimension).fill(0);
  vector[axis % dimension] = 1;
  if (wobble !== 0) vector[(axis + 1) % dimension] = wobble;
  return vector;
}

/** Retries `attempt` until it resolves, or fails after `withinMs`; resolves with the value and the time taken. */
export async function eventually<T>(withinMs: number, attempt: () => Promise<T>): Promise<{ value: T; tookMs: number }> {
  const started = Date.now();
  let lastError: unknown;
  while (Date.now() - started < withinMs) {
    try {
      return { value: await attempt(), tookMs: Date.now() - started };
    } catch (error) {
      lastError = error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`not within ${withinMs} ms: ${String(lastError)}`);
}

/** Each member's state as the node at `url` sees it. */
export async function memberStates(url: string): Promise<Record<string, string>> {
  const data = await gqlData<{ cluster: { nodes: { id: string; state: string }[] } }>(url, '{ cluster { nodes { id state } } }');
  return Object.fromEntries(data.cluster.nodes.map((n) => [n.id, n.state]));
}

/** Waits until every node in `urls` sees every one of `ids` ALIVE. */
export async function allAlive(urls: Iterable<string>, ids: readonly string[], withinMs = 20_000): Promise<void> {
  await eventually(withinMs, async () => {
    for (const url of urls) {
      const seen = await memberStates(url);
      if (ids.some((id) => seen[id] !== 'ALIVE')) throw new Error(`not converged: ${JSON.stringify(seen)}`);
    }
  });
}
