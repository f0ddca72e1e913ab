// Starts a real nats-server for a test on a free port: from NATS_SERVER_BIN, or
// `nats-server` on PATH (Debian's package; .ci/run installs it). `stop()` kills it.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export interface NatsServer {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export function natsServerBinary(): string {
  const configured = process.env['NATS_SERVER_BIN'];
  if (configured !== undefined && configured !== '') return configured;
  const found = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' }).stdout.trim();
  if (found === '') throw new Error('nats-server not found: install Debian\'s nats-server package or set NATS_SERVER_BIN');
  return found;
}

export async function startNatsServer(extraArgs: string[] = []): Promise<NatsServer> {
  // -p -1 picks a free port; the server logs which one.
  const child = spawn(natsServerBinary(), ['-a', '127.0.0.1', '-p', '-1', ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`nats-server did not start:\n${output}`)), 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Listening for client connections on [^:]+:(\d+)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited (${code}):\n${output}`));
    });
  });
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
