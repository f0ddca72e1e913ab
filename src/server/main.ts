// Process entry point: configuration from the environment and flags, one node, and a
// graceful stop on SIGTERM or SIGINT (in cluster mode drain first, then finish in-flight
// requests, flush, close RocksDB).

import './productionMode.js'; // must stay first: sets NODE_ENV before graphql loads
import { loadConfig } from '../config.js';
import { EngramError } from '../errors.js';
import { startNode } from './app.js';
import { createLogger } from './logger.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env, process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`engram: ${error instanceof EngramError ? error.message : String(error)}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.logLevel);
  const node = await startNode(config, logger);
  let signals = 0;
  const stop = (signal: string) => {
    signals++;
    if (signals > 1) {
      node.logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    node.logger.info({ signal }, 'stopping');
    node.close().then(
      () => process.exit(0),
      (error: unknown) => {
        node.logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  // A drain an admin asked for stops the node; the process ends with it.
  void node.stopped.then(() => process.exit(0));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('unhandledRejection', (error) => node.logger.error({ err: error }, 'unhandled rejection'));
}

main().catch((error: unknown) => {
  process.stderr.write(`engram: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
