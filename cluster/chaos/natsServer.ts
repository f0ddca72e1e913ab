// Starts a real nats-server on free ports: from NATS_SERVER_BIN, or `nats-server` on PATH
// (Debian's package; .ci/run installs it). Ports given as -1 are chosen by the server, which
// logs each one; the starter reads them from the log instead of probing for free ports, so
// there is no window in which another process can take a port. `stop()` kills it.
//
// Used by the tests (through test/support/natsServer.ts) and by `npm run chaos`, which also
// asks for a route port and a monitoring port (clustered servers, /routez).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export interface NatsServer {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface ClusteredNatsServer extends NatsServer {
  /** Port the server accepts routes on. */
  routePort: number;
  /** HTTP monitoring port (/varz, /routez). */
  monitorPort: number;
  /** The server's id as /routez reports it on its peers (`remote_id`). */
  serverId: string;
}

/** Longest wait for a starting server to log its ports. It starts in milliseconds; a loaded 2-core machine may take seconds. */
export const NATS_START_TIMEOUT_MS = 10_000;
/** Server log kept for the error message of a failed start; the rest is dropped. */
const MAX_KEPT_LOG_CHARS = 64 * 1024;
/** Longest wait for a killed server to exit. SIGKILL is immediate; this only bounds a wedged kernel. */
const STOP_TIMEOUT_MS = 5000;

export function natsServerBinary(): string {
  const configured = process.env['NATS_SERVER_BIN'];
  if (configured !== undefined && configured !== '') return configured;
  const found = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' }).stdout.trim();
  if (found === '') throw new Error('nats-server not found: install Debian\'s nats-server package or set NATS_SERVER_BIN');
  return found;
}

/** A single server on a free client port; `extraArgs` go to nats-server as they are. */
export async function startNatsServer(extraArgs: string[] = []): Promise<NatsServer> {
  // -p -1 picks a free port; the server logs which one.
  const { child, found } = await launch(['-a', '127.0.0.1', '-p', '-1', ...extraArgs], { port: CLIENT_PORT });
  return serverOf(child, Number(found['port']));
}

export interface ClusterMemberOptions {
  clusterName: string;
  /** Route URLs this server solicits (through proxies, in a chaos run). */
  routes: readonly string[];
  /** `--cluster_advertise`: the route address this server tells its peers about. */
  advertise?: string;
  extraArgs?: readonly string[];
}

/** A server that joins a NATS cluster: free client, route and monitoring ports, no client URLs advertised. */
export async function startClusteredNatsServer(options: ClusterMemberOptions): Promise<ClusteredNatsServer> {
  const args = ['-a', '127.0.0.1', '-p', '-1', '-m', '-1', '--cluster', 'nats://127.0.0.1:-1', '--cluster_name', options.clusterName];
  // A client must stay on its own server: told of the others, it could reconnect around a partition.
  args.push('--no_advertise=true');
  if (options.routes.length > 0) args.push('--routes', options.routes.join(','));
  if (options.advertise !== undefined) args.push('--cluster_advertise', options.advertise);
  args.push(...(options.extraArgs ?? []));
  const { child, found } = await launch(args, { port: CLIENT_PORT, routePort: ROUTE_PORT, monitorPort: MONITOR_PORT, serverId: SERVER_ID });
  return { ...serverOf(child, Number(found['port'])), routePort: Number(found['routePort']), monitorPort: Number(found['monitorPort']), serverId: String(found['serverId']) };
}

const CLIENT_PORT = /Listening for client connections on [^\s]+:(\d+)/;
const ROUTE_PORT = /Listening for route connections on [^\s]+:(\d+)/;
const MONITOR_PORT = /Starting http monitor on [^\s]+:(\d+)/;
const SERVER_ID = /\bID:\s+(N[A-Z0-9]+)/;

type Found = Record<string, string | number>;

/** Spawns the server and resolves once every pattern in `wanted` has matched its log. */
async function launch(args: string[], wanted: Record<string, RegExp>): Promise<{ child: ChildProcess; found: Found }> {
  const child = spawn(natsServerBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const found: Found = {};
  try {
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`nats-server did not start in ${NATS_START_TIMEOUT_MS} ms:\n${output}`)), NATS_START_TIMEOUT_MS);
      const onData = (chunk: Buffer) => {
        if (output.length < MAX_KEPT_LOG_CHARS) output += chunk.toString();
        for (const [name, pattern] of Object.entries(wanted)) {
          const match = found[name] === undefined ? pattern.exec(output) : null;
          if (match !== null) found[name] = name === 'serverId' ? match[1]! : Number(match[1]);
        }
        if (Object.keys(wanted).every((name) => found[name] !== undefined)) {
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          child.stderr!.off('data', onData);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited (${code}):\n${output}`));
      });
    });
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  // Keep reading so a chatty server never blocks on a full pipe.
  child.stdout!.resume();
  child.stderr!.resume();
  return { child, found };
}

function serverOf(child: ChildProcess, port: number): NatsServer {
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    process: child,
    stop: () => stopProcess(child),
  };
}

/** SIGKILLs `child` and resolves once it has exited (or STOP_TIMEOUT_MS passed). */
export function stopProcess(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(resolve, STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGKILL');
  });
}
