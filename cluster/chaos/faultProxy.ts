// A TCP proxy owned by a test or a chaos run, placed on one link: between a node and its
// NATS server, or on one directed route between two NATS servers. `cut()` destroys every
// connection through it and refuses new ones, so both ends see the peer vanish at once, as
// they would when a switch drops the link and the kernel resets it; `heal()` lets
// connections through again, and the ends reconnect on their own. `setLatencyMs` delays
// every chunk in both directions, for a slow link without a cut.
//
// The proxy can be started before it knows its target (a NATS route mesh needs the proxy
// ports before the servers start, and the servers' route ports only after): connections that
// arrive before `setTarget` are refused, as on a cut link. It also reports the local ports of
// its upstream sockets, since that is the remote address a server sees on a route the proxy
// carried in, which is how a chaos run proves from /routez that every route goes through it.

import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** Bytes a delayed direction holds before it stops reading from its sender: TCP back-pressure, not memory, absorbs a burst. */
export const MAX_DELAYED_BYTES = 8 * 1024 * 1024;

export class FaultProxy {
  private readonly sockets = new Set<Socket>();
  private readonly upstreamPorts = new Set<number>();
  private cutOff = false;
  private latencyMs = 0;
  private targetPort: number | undefined;
  /** Connections refused because the link was cut or had no target yet. */
  refused = 0;
  /** Connections carried to the target since the proxy started. */
  carried = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** A proxy on a free port of 127.0.0.1 that forwards to `targetPort`, or refuses until `setTarget`. */
  static async start(targetPort?: number): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const server = createServer((client) => {
      if (proxy === undefined) client.destroy();
      else proxy.onConnection(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
    proxy = new FaultProxy(server, address.port);
    proxy.targetPort = targetPort;
    return proxy;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get isCut(): boolean {
    return this.cutOff;
  }

  setTarget(targetPort: number): void {
    this.targetPort = targetPort;
  }

  /** Added one-way delay per chunk, both directions; 0 turns it off. Order is kept. */
  setLatencyMs(latencyMs: number): void {
    this.latencyMs = Math.max(0, latencyMs);
  }

  /** Local ports of the sockets this proxy opened to its target, open now. */
  upstreamLocalPorts(): ReadonlySet<number> {
    return this.upstreamPorts;
  }

  cut(): void {
    this.cutOff = true;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.upstreamPorts.clear();
  }

  heal(): void {
    this.cutOff = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onConnection(client: Socket): void {
    if (this.cutOff || this.targetPort === undefined) {
      this.refused++;
      client.destroy();
      return;
    }
    this.carried++;
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
    let localPort: number | undefined;
    upstream.once('connect', () => {
      localPort = upstream.localPort;
      if (localPort !== undefined && !upstream.destroyed) this.upstreamPorts.add(localPort);
    });
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    upstream.once('close', () => {
      if (localPort !== undefined) this.upstreamPorts.delete(localPort);
    });
    this.forward(client, upstream);
    this.forward(upstream, client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  /** Pipes `from` into `to`, through a delay queue when latency is set. */
  private forward(from: Socket, to: Socket): void {
    // Chunks leave in arrival order, each no sooner than its own arrival plus the latency.
    const queue: { chunk: Buffer; releaseAtMs: number }[] = [];
    let queuedBytes = 0;
    let timer: NodeJS.Timeout | undefined;
    const write = (chunk: Buffer) => {
      if (!to.destroyed && !to.write(chunk)) from.pause();
    };
    const drain = () => {
      timer = undefined;
      while (queue.length > 0 && queue[0]!.releaseAtMs <= performance.now()) {
        const { chunk } = queue.shift()!;
        queuedBytes -= chunk.length;
        write(chunk);
      }
      if (queuedBytes < MAX_DELAYED_BYTES && to.writableNeedDrain !== true) from.resume();
      if (queue.length > 0) timer = setTimeout(drain, queue[0]!.releaseAtMs - performance.now());
    };
    from.on('data', (chunk: Buffer) => {
      if (this.latencyMs === 0 && queue.length === 0) return write(chunk);
      queue.push({ chunk, releaseAtMs: performance.now() + this.latencyMs });
      queuedBytes += chunk.length;
      if (queuedBytes >= MAX_DELAYED_BYTES) from.pause();
      timer ??= setTimeout(drain, this.latencyMs);
    });
    from.on('close', () => clearTimeout(timer));
    to.on('drain', () => from.resume());
  }
}
