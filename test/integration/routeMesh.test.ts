// The NATS route mesh of a chaos run (cluster/chaos/routeMesh.ts) on real nats-servers:
// every route goes through a fault proxy, a partition between groups stops messages across
// the groups and only those, the heal brings the full mesh back, and a route that does not
// go through a proxy is reported, so a run can refuse to start on it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClusteredNatsServer, type ClusteredNatsServer } from '../../cluster/chaos/natsServer.js';
import { RouteMesh } from '../../cluster/chaos/routeMesh.js';
import { NatsTransport } from '../../cluster/transport/natsTransport.js';
import { eventually } from '../support/node.js';

const nodes = ['n1', 'n2', 'n3'];
let mesh: RouteMesh;
const transports = new Map<string, NatsTransport>();
const extras: ClusteredNatsServer[] = [];

/** Whether a request from `from`'s server reaches a responder on `to`'s server. */
async function reaches(from: string, to: string): Promise<boolean> {
  try {
    await transports.get(from)!.request(`mesh.echo.${to}`, new Uint8Array([1]), { timeoutMs: 500 });
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  mesh = await RouteMesh.start(nodes, `mesh${process.pid}`);
  await mesh.verifyRoutes();
  for (const node of nodes) {
    const transport = await NatsTransport.connect({ servers: [mesh.clientUrl(node)], name: node });
    transport.subscribe(`mesh.echo.${node}`, (message) => message.respond?.(message.data));
    transports.set(node, transport);
  }
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([...transports.values()].map((transport) => transport.close()));
  await Promise.allSettled(extras.map((server) => server.stop()));
  await mesh?.stop();
});

describe('the route mesh of a chaos run', () => {
  it('routesEveryPairThroughAProxy_cutsExactlyTheRoutesAcrossAPartition_andHealsToAFullMesh', { timeout: 60_000 }, async () => {
    const before = await mesh.verifyRoutes();
    expect(before.complete).toBe(true);
    expect(before.throughProxies).toBe(true);
    expect(new Set(before.routes.map((route) => `${route.node}-${route.remote}`)).size).toBe(6);
    await eventually(10_000, async () => {
      for (const from of nodes) for (const to of nodes) if (!(await reaches(from, to))) throw new Error(`${from} does not reach ${to}`);
    });

    mesh.partition([['n1'], ['n2', 'n3']]);
    expect(mesh.cutLinks().sort()).toEqual(['n1->n2', 'n1->n3', 'n2->n1', 'n3->n1']);
    await eventually(10_000, async () => {
      const routes = await mesh.observeRoutes();
      if (routes.routes.some((route) => route.node === 'n1' || route.remote === 'n1')) throw new Error('n1 still has a route');
    });
    expect(await reaches('n1', 'n2')).toBe(false);
    expect(await reaches('n3', 'n1')).toBe(false);
    expect(await reaches('n2', 'n3')).toBe(true);
    expect(await reaches('n1', 'n1')).toBe(true);

    mesh.heal();
    const after = await mesh.verifyRoutes();
    expect(after.complete && after.throughProxies).toBe(true);
    await eventually(10_000, async () => {
      if (!(await reaches('n1', 'n3')) || !(await reaches('n2', 'n1'))) throw new Error('not healed yet');
    });
  });

  it('reportsARouteThatBypassesTheProxies', { timeout: 30_000 }, async () => {
    // A server outside the mesh that dials n1's route port directly.
    const n1 = mesh.servers.get('n1')!;
    extras.push(await startClusteredNatsServer({ clusterName: `mesh${process.pid}`, routes: [`nats://127.0.0.1:${n1.routePort}`] }));
    const report = await eventually(10_000, async () => {
      const observed = await mesh.observeRoutes();
      if (observed.throughProxies) throw new Error('the direct route is not up yet');
      return observed;
    });
    // The outsider's route shows on whichever server it reached first (gossip spreads it), never as proxied.
    expect(report.value.throughProxies).toBe(false);
    expect(report.value.routes.some((route) => route.remote === null && route.via === null)).toBe(true);
  });
});
