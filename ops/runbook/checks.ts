// What a runbook's "Verify" section checks, as code: each check is named, passes or fails
// with a detail, and the report prints them all; reads that prove acknowledged writes are
// held through every node; the log lines that would mean a failover; the content of a space
// (id, version clock, embedding) to compare two clusters.

/** Timeout of one GraphQL request of a check. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Ids read in one request: under the 30-alias limit of a query. */
const READ_BATCH = 25;
/** How often a waiting check polls. */
const POLL_MS = 250;

export async function gql<T>(url: string, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = (await response.json()) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
  if (body.errors !== undefined && body.errors.length > 0) throw new Error(`${body.errors[0]!.extensions?.code ?? 'ERROR'}: ${body.errors[0]!.message}`);
  if (body.data === undefined) throw new Error(`HTTP ${response.status} without data`);
  return body.data;
}

/** Polls `attempt` (null when done, else why not yet) until it is done or `timeoutMs` passes. */
export async function until(timeoutMs: number, what: string, attempt: () => Promise<string | null>): Promise<number> {
  const started = Date.now();
  let last = 'not tried';
  while (Date.now() - started < timeoutMs) {
    try {
      const reason = await attempt();
      if (reason === null) return Date.now() - started;
      last = reason;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error(`waited ${timeoutMs} ms for ${what}: ${last}`);
}

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

export class Verify {
  readonly results: CheckResult[] = [];
  readonly figures: Record<string, number | string> = {};

  constructor(readonly procedure: string) {}

  check(name: string, ok: boolean, detail = ''): boolean {
    this.results.push({ name, ok, detail });
    process.stdout.write(`  ${ok ? 'PASS' : 'FAIL'}  ${name}${detail === '' ? '' : ` (${detail})`}\n`);
    return ok;
  }

  step(text: string): void {
    process.stdout.write(`- ${text}\n`);
  }

  get passed(): boolean {
    return this.results.length > 0 && this.results.every((r) => r.ok);
  }
}

/** Ids of `ids` that the node at `url` does not return from `memory(id)`. */
export async function missingThrough(url: string, space: string, ids: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (let i = 0; i < ids.length; i += READ_BATCH) {
    const batch = ids.slice(i, i + READ_BATCH);
    const query = `query($space: ID!) { ${batch.map((_, j) => `m${j}: memory(space: $space, id: ${JSON.stringify(batch[j])}) { id }`).join(' ')} }`;
    const data = await gql<Record<string, { id: string } | null>>(url, query, { space });
    batch.forEach((id, j) => data[`m${j}`] == null && missing.push(id));
  }
  return missing;
}

/** Waits until every node in `urls` returns every id; resolves with what is still missing (empty on success). */
export async function readBack(urls: readonly string[], space: string, ids: readonly string[], timeoutMs = 30_000): Promise<{ missing: number; tookMs: number }> {
  let missing = ids.length;
  const started = Date.now();
  try {
    await until(timeoutMs, 'every acknowledged write through every node', async () => {
      let total = 0;
      for (const url of urls) total += (await missingThrough(url, space, ids)).length;
      missing = total;
      return total === 0 ? null : `${total} reads missing`;
    });
  } catch {
    // `missing` says how many.
  }
  return { missing, tookMs: Date.now() - started };
}

/** Log lines that mean a failover, a cut-off log or a shard left without a primary. */
export function failoverLines(lines: readonly Record<string, unknown>[]): string[] {
  const bad = new Set(['the shard is unavailable', 'cut off log entries of a superseded primary; merging them back', 'became primary without a majority of the copies']);
  return lines.filter((l) => bad.has(String(l['msg']))).map((l) => `${String(l['node'])}: ${String(l['msg'])} ${String(l['space'] ?? '')}/${String(l['shard'] ?? '')}`);
}

/** Promotions for shards `node` led that did not fence it: a claim made without the node, a failover. */
export function claimsWithout(lines: readonly Record<string, unknown>[], node: string, shards: ReadonlySet<string>): string[] {
  return lines
    .filter((l) => l['msg'] === 'became primary' && shards.has(`${String(l['space'])}/${String(l['shard'])}`) && !((l['fenced'] as string[] | undefined) ?? []).includes(node))
    .map((l) => `${String(l['node'])} claimed ${String(l['space'])}/${String(l['shard'])} without fencing ${node}`);
}

/** The primary of each shard of `space` as the node at `url` reports it ("space/shard" -> node). */
export async function primaries(url: string, space: string): Promise<Map<string, string>> {
  const { spaces } = await gql<{ spaces: { id: string; replication: { shard: number; primary: string | null }[] }[] }>(url, '{ spaces { id replication { shard primary } } }');
  const found = spaces.find((s) => s.id === space);
  return new Map((found?.replication ?? []).map((r) => [`${space}/${r.shard}`, r.primary ?? '']));
}

export interface StoredMemory {
  id: string;
  version: unknown;
  embeddingBase64: string | null;
  content: string | null;
}

/** Every memory of a space through the node at `url`: id, version clock, embedding and content. */
export async function contents(url: string, space: string): Promise<Map<string, StoredMemory>> {
  const out = new Map<string, StoredMemory>();
  let after: string | null = null;
  for (;;) {
    const data: { memories: { edges: { node: StoredMemory }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } = await gql(
      url,
      'query($space: ID!, $after: String) { memories(space: $space, first: 100, after: $after) { edges { node { id version embeddingBase64 content } } pageInfo { hasNextPage endCursor } } }',
      { space, after },
    );
    for (const edge of data.memories.edges) out.set(edge.node.id, edge.node);
    if (!data.memories.pageInfo.hasNextPage) return out;
    after = data.memories.pageInfo.endCursor;
  }
}

/** Creates a space through `url` and waits until every node in `urls` knows it and every shard has a primary. */
export async function createSpace(url: string, urls: readonly string[], space: string, dimension: number, shards: number): Promise<void> {
  await gql(url, 'mutation($id: ID!, $dimension: Int, $shards: Int) { createSpace(id: $id, dimension: $dimension, shards: $shards) { id } }', { id: space, dimension, shards });
  await until(30_000, `every node to hold ${space} with a primary for each shard`, async () => {
    for (const other of urls) {
      const led = await primaries(other, space);
      if (led.size !== shards || [...led.values()].includes('')) return `${other}: ${led.size} of ${shards} shards have a primary`;
    }
    return null;
  });
}
