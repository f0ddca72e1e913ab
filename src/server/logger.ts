// pino JSON logs on stdout, one line per event.
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export function createLogger(level: string, nodeId?: string): Logger {
  return pino({ level, base: nodeId === undefined ? { pid: process.pid } : { pid: process.pid, node: nodeId } });
}
