// Traces across node processes: two nodes export spans over OTLP/HTTP (JSON) to a receiver
// on loopback. A write sent to the node that does not own the shard is forwarded to the
// owner and replicated back; all of it must be one trace that continues the client's
// traceparent, with spans from both nodes and every parent link resolving inside it.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, gqlData, Harness } from '../support/node.js';
import { startNatsServer, type NatsServer } from '../support/natsServer.js';

interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  node: string;
  startTimeUnixNano?: string;
  endTimeUnixNano?: string;
}

const harness = new Harness();
let nats: NatsServer;
let receiver: Server;
const spans: ExportedSpan[] = [];
const urls = new Map<string, string>();
const SPACE = 'traced';

function attribute(attributes: { key: string; value: { stringValue?: string } }[] | undefined, key: string): string {
  return attributes?.find((a) => a.key === key)?.value.stringValue ?? '';
}

beforeAll(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.url === '/v1/traces') {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as {
          resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: Omit<ExportedSpan, 'node'>[] }[] }[];
        };
        for (const resource of body.resourceSpans) {
          expect(attribute(resource.resource.attributes, 'service.name')).toBe('engram');
          const node = attribute(resource.resource.attributes, 'service.instance.id');
          for (const scope of resource.scopeSpans) for (const span of scope.spans) spans.push({ ...span, node });
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  nats = await startNatsServer();
  const env = {
    ENGRAM_NATS_URL: nats.url,
    ENGRAM_CLUSTER: `traces${process.pid}`,
    ENGRAM_REPLICATION_FACTOR: '2',
    ENGRAM_SETTLE_MS: '500',
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '100',
  };
  await Promise.all(
    ['t1', 't2'].map(async (id) => {
      const { url } = await harness.spawnNode(harness.directory(), { ...env, ENGRAM_NODE_ID: id });
      urls.set(id, url);
    }),
  );
  await eventually(15_000, async () => {
    const data = await gqlData<{ cluster: { nodes: { state: string }[] } }>(urls.get('t1')!, `{ cluster { nodes { state } } }`);
    if (data.cluster.nodes.filter((n) => n.state === 'ALIVE').length !== 2) throw new Error('not joined');
  });
  await gqlData(urls.get('t1')!, `mutation { createSpace(id: "${SPACE}", dimension: 4) { id } }`);
}, 60_000);

afterAll(async () => {
  await harness.cleanup();
  await nats?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

/**
 * Spans of one trace once they include every name in `expected` and every parent link
 * resolves inside the trace or to `rootParent`. A parent ends after its children, so it may
 * reach the receiver in a later export batch; waiting for both keeps the check exact.
 */
async function traceWith(traceId: string, expected: readonly string[], rootParent: string): Promise<ExportedSpan[]> {
  return (
    await eventually(15_000, async () => {
      const found = spans.filter((s) => s.traceId === traceId);
      const missing = expected.filter((name) => !found.some((s) => s.name === name));
      if (missing.length > 0) throw new Error(`missing spans ${missing.join(', ')}; have ${found.map((s) => `${s.node}:${s.name}`).join(', ')}`);
      const ids = new Set(found.map((s) => s.spanId));
      const orphans = found.filter((s) => s.parentSpanId !== rootParent && !ids.has(s.parentSpanId ?? ''));
      if (orphans.length > 0) throw new Error(`spans whose parent is not in the trace: ${orphans.map((s) => `${s.node}:${s.name}`).join(', ')}`);
      return found;
    })
  ).value;
}

describe('OpenTelemetry traces across nodes', () => {
  it('aForwardedReplicatedWrite_isOneTrace_continuingTheClientsTraceparent_withSpansFromBothNodes', async () => {
    const { spaces } = (await eventually(10_000, () => gqlData<{ spaces: { id: string; placement: { primary: string }[] }[] }>(urls.get('t1')!, `{ spaces { id placement { primary } } }`))).value;
    const owner = spaces.find((s) => s.id === SPACE)!.placement[0]!.primary;
    const entry = owner === 't1' ? 't2' : 't1';
    const traceId = randomBytes(16).toString('hex');
    const clientSpan = randomBytes(8).toString('hex');
    await eventually(10_000, () =>
      gqlData(urls.get(entry)!, `mutation Write { remember(space: "${SPACE}", memory: { id: "w1", content: "traced write", embedding: [1, 0, 0, 0] }, options: { consistency: QUORUM }) { id } }`, undefined, {
        traceparent: `00-${traceId}-${clientSpan}-01`,
      }),
    );
    // Every parent resolves inside the trace, except the root's, which is the client's span.
    const trace = await traceWith(traceId, ['graphql mutation Write', 'Mutation.remember', 'rpc client op.remember', 'rpc server op.remember', 'rpc server repl.append', 'rocksdb.write'], clientSpan);
    const root = trace.find((s) => s.name === 'graphql mutation Write')!;
    expect(root.parentSpanId).toBe(clientSpan);
    expect(root.node).toBe(entry);
    expect(trace.find((s) => s.name === 'rpc server op.remember')!.node).toBe(owner);
    // The owner ships the entry to the entry node, its replica, inside the same trace.
    expect(trace.find((s) => s.name === 'rpc server repl.append')!.node).toBe(entry);
    expect(new Set(trace.map((s) => s.node))).toEqual(new Set(['t1', 't2']));
  });

  it('aRecallThroughAReplicaNode_asksThePrimaryForItsPosition_andShowsTheEnginePhasesWhereItRan', async () => {
    const { spaces } = await gqlData<{ spaces: { id: string; placement: { primary: string }[] }[] }>(urls.get('t1')!, `{ spaces { id placement { primary } } }`);
    const owner = spaces.find((s) => s.id === SPACE)!.placement[0]!.primary;
    const entry = owner === 't1' ? 't2' : 't1';
    const traceId = randomBytes(16).toString('hex');
    const clientSpan = randomBytes(8).toString('hex');
    await gqlData(urls.get(entry)!, `query Find { recall(space: "${SPACE}", cue: { embedding: [1, 0, 0, 0] }) { memories { memory { id } } } }`, undefined, {
      traceparent: `00-${traceId}-${clientSpan}-01`,
    });
    // The entry node holds a replica of the only shard (replication factor 2 on 2 nodes): it
    // learns the primary's log position and answers from its own copy (docs/query.md).
    const trace = await traceWith(traceId, ['graphql query Find', 'Query.recall', 'query.position', 'rpc client repl.position', 'rpc server repl.position', 'engine.index_search', 'engine.spreading_activation', 'engine.ranking'], clientSpan);
    expect(trace.find((s) => s.name === 'rpc server repl.position')!.node).toBe(owner);
    expect(trace.find((s) => s.name === 'query.position')!.node).toBe(entry);
    for (const name of ['engine.index_search', 'engine.spreading_activation', 'engine.ranking']) expect(trace.find((s) => s.name === name)!.node).toBe(entry);
    // Storage reads sit under the engine's phases, after the position round.
    const reads = trace.filter((s) => s.name === 'rocksdb.get' || s.name === 'rocksdb.read');
    expect(reads.length).toBeGreaterThan(0);
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const ancestors = (span: ExportedSpan): string[] => {
      const names: string[] = [];
      for (let parent = byId.get(span.parentSpanId ?? ''); parent !== undefined; parent = byId.get(parent.parentSpanId ?? '')) names.push(parent.name);
      return names;
    };
    for (const read of reads) {
      expect(read.node).toBe(entry);
      expect(ancestors(read)).toContain('Query.recall');
    }
    expect(reads.some((read) => ancestors(read).some((name) => name.startsWith('engine.')))).toBe(true);
    expect(Number(trace.find((s) => s.name === 'query.position')!.endTimeUnixNano)).toBeLessThanOrEqual(Number(trace.find((s) => s.name === 'engine.index_search')!.startTimeUnixNano));
  });
});
