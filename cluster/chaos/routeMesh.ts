// The NATS cluster of a chaos run: one nats-server per node, and every route between two
// servers carried by a FaultProxy the run owns, one proxy per directed pair. Server A
// solicits B through proxy A->B, and B solicits A through B->A; NATS keeps one of the two
// connections. Cutting both proxies of a pair cuts exactly that pair's route, so a partition
// between groups of nodes is the set of pairs across the groups, and nothing else moves.
//
// NATS gossips the route address of every server it meets, and a server that learns of a
// peer before its own configured route to it is up dials the gossiped address directly,
// which would bypass the proxies (without this, 56 routes of 5 five-server meshes did).
// Each server therefore advertises an address where nothing listens: such an implicit
// route is refused once and not retried (connect_retries is 0), while the configured
// routes through the proxies retry forever. A listener that accepts and then closes would
// not do: NATS then takes the implicit route for a solicited one and redials it every few
// tens of milliseconds.
// `verifyRoutes` reads /routez of every server and proves the result: the mesh is complete
// and every route's remote address is a proxy port (a route the server dialled) or the
// upstream port of the proxy that carried it in (a route it accepted).

import { FaultProxy } from './faultProxy.js';
import { startClusteredNatsServer, type ClusteredNatsServer } from './natsServer.js';

/**
 * What every server advertises as its route address: port 1 of loopback, privileged (no
 * unprivileged process can listen there) and unused, so a dial is refused at once.
 */
export const UNREACHABLE_ROUTE_ADDRESS = '127.0.0.1:1';
/** Longest wait for the route mesh to become complete after the servers start (routes retry every second). */
export const MESH_COMPLETE_TIMEOUT_MS = 20_000;
/** How often /routez is read while waiting for the mesh. */
const ROUTEZ_POLL_MS = 200;
/** Timeout of one /routez request; the monitor answers in milliseconds. */
const ROUTEZ_REQUEST_TIMEOUT_MS = 2000;

export interface RouteObservation {
  /** Node whose server reported the route. */
  node: string;
  /** Node at the other end, or null when the remote server id is not one of the run's. */
  remote: string | null;
  solicited: boolean;
  remoteAddress: string;
  /** The proxy link the route goes through (`a->b`), or null when it bypasses the proxies. */
  via: string | null;
}

export interface RouteReport {
  /** Every route has a known remote and goes through a proxy. */
  throughProxies: boolean;
  /** Every server has a route to every other server. */
  complete: boolean;
  routes: RouteObservation[];
}

interface RoutezRoute {
  remote_id: string;
  did_solicit: boolean;
  ip: string;
  port: number;
}

export class RouteMesh {
  private constructor(
    readonly nodes: readonly string[],
    readonly servers: ReadonlyMap<string, ClusteredNatsServer>,
    /** `from->to` -> the proxy `from` solicits `to` through. */
    private readonly links: ReadonlyMap<string, FaultProxy>,
  ) {}

  /** Starts the proxies, then the servers (routed through them), then points the proxies at the servers. */
  static async start(nodes: readonly string[], clusterName: string): Promise<RouteMesh> {
    const links = new Map<string, FaultProxy>();
    const servers = new Map<string, ClusteredNatsServer>();
    const mesh = new RouteMesh(nodes, servers, links);
    try {
      for (const from of nodes) for (const to of nodes) if (from !== to) links.set(linkName(from, to), await FaultProxy.start());
      // Every start is awaited, so a server that started beside a failed one is stopped too.
      const starts = await Promise.allSettled(
        nodes.map(async (node) => {
          const server = await startClusteredNatsServer({
            clusterName,
            routes: nodes.filter((to) => to !== node).map((to) => links.get(linkName(node, to))!.url),
            advertise: UNREACHABLE_ROUTE_ADDRESS,
          });
          servers.set(node, server);
        }),
      );
      const failed = starts.find((start): start is PromiseRejectedResult => start.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      for (const [name, proxy] of links) proxy.setTarget(servers.get(targetOf(name))!.routePort);
      return mesh;
    } catch (error) {
      await mesh.stop();
      throw error;
    }
  }

  /** The client URL of `node`'s own server. */
  clientUrl(node: string): string {
    return this.servers.get(node)!.url;
  }

  /** Pids of every server, for a caller that proves none is left running. */
  pids(): number[] {
    return [...this.servers.values()].map((server) => server.process.pid).filter((pid): pid is number => pid !== undefined);
  }

  /** Cuts every route between a node of one group and a node of another; routes inside a group stay. */
  partition(groups: readonly (readonly string[])[]): void {
    const groupOf = new Map<string, number>();
    groups.forEach((group, index) => group.forEach((node) => groupOf.set(node, index)));
    for (const [name, proxy] of this.links) {
      const from = groupOf.get(sourceOf(name));
      const to = groupOf.get(targetOf(name));
      if (from !== undefined && to !== undefined && from !== to) proxy.cut();
    }
  }

  /** Cuts every route of `node`. */
  isolate(node: string): void {
    this.partition([[node], this.nodes.filter((other) => other !== node)]);
  }

  /** Cuts the routes between `a` and `b` only, both directions. */
  cutPair(a: string, b: string): void {
    this.links.get(linkName(a, b))?.cut();
    this.links.get(linkName(b, a))?.cut();
  }

  heal(): void {
    for (const proxy of this.links.values()) proxy.heal();
  }

  /** Added one-way latency on every route, 0 to remove it. */
  setLatencyMs(latencyMs: number): void {
    for (const proxy of this.links.values()) proxy.setLatencyMs(latencyMs);
  }

  /** Links cut now, as `a->b`. */
  cutLinks(): string[] {
    return [...this.links].filter(([, proxy]) => proxy.isCut).map(([name]) => name);
  }

  /** Reads /routez of every server once. */
  async observeRoutes(): Promise<RouteReport> {
    const byServerId = new Map([...this.servers].map(([node, server]) => [server.serverId, node]));
    const routes: RouteObservation[] = [];
    for (const [node, server] of this.servers) {
      for (const route of await routez(server.monitorPort)) {
        const remote = byServerId.get(route.remote_id) ?? null;
        routes.push({ node, remote, solicited: route.did_solicit, remoteAddress: `${route.ip}:${route.port}`, via: remote === null ? null : this.linkCarrying(node, remote, route) });
      }
    }
    const throughProxies = routes.every((route) => route.remote !== null && route.via !== null);
    const complete = this.nodes.every((node) => {
      const remotes = new Set(routes.filter((route) => route.node === node).map((route) => route.remote));
      return this.nodes.every((other) => other === node || remotes.has(other));
    });
    return { throughProxies, complete, routes };
  }

  /**
   * Waits until the mesh is complete; resolves with the report, which says whether every
   * route goes through a proxy. Rejects when the mesh is not complete in time.
   */
  async verifyRoutes(timeoutMs = MESH_COMPLETE_TIMEOUT_MS): Promise<RouteReport> {
    const deadline = performance.now() + timeoutMs;
    let last: RouteReport | undefined;
    while (performance.now() < deadline) {
      last = await this.observeRoutes();
      if (!last.throughProxies) return last;
      if (last.complete) return last;
      await new Promise((resolve) => setTimeout(resolve, ROUTEZ_POLL_MS));
    }
    throw new Error(`the NATS route mesh was not complete within ${timeoutMs} ms: ${JSON.stringify(last?.routes ?? [])}`);
  }

  /** For a process exit handler: SIGKILL to every server without waiting. */
  killNow(): void {
    for (const server of this.servers.values()) {
      if (server.process.exitCode === null && server.process.signalCode === null) server.process.kill('SIGKILL');
    }
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.servers.values()].map((server) => server.stop()));
    await Promise.allSettled([...this.links.values()].map((proxy) => proxy.close()));
  }

  /**
   * The link a route between `node` and `remote` went through, judged by its remote address
   * alone: the port of the proxy `node` dials `remote` through, or an upstream port of the
   * proxy that carried `remote`'s connection in. `did_solicit` is not used, since NATS also
   * marks an accepted route as solicited when it matches a configured one.
   */
  private linkCarrying(node: string, remote: string, route: RoutezRoute): string | null {
    if (route.ip !== '127.0.0.1') return null;
    const outbound = linkName(node, remote);
    if (this.links.get(outbound)?.port === route.port) return outbound;
    const inbound = linkName(remote, node);
    if (this.links.get(inbound)?.upstreamLocalPorts().has(route.port) === true) return inbound;
    return null;
  }
}

function linkName(from: string, to: string): string {
  return `${from}->${to}`;
}

function sourceOf(link: string): string {
  return link.slice(0, link.indexOf('->'));
}

function targetOf(link: string): string {
  return link.slice(link.indexOf('->') + 2);
}

async function routez(monitorPort: number): Promise<RoutezRoute[]> {
  const response = await fetch(`http://127.0.0.1:${monitorPort}/routez`, { signal: AbortSignal.timeout(ROUTEZ_REQUEST_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`/routez answered ${response.status}`);
  const body = (await response.json()) as { routes?: RoutezRoute[] | null };
  return body.routes ?? [];
}
