// `npm run runbook -- <procedure|all>`: performs a procedure of docs/runbook/ against real
// local processes under a light load and checks its "Verify" section. Prints each check
// and the figures; exits 1 when any check fails, 2 on a usage error. Everything it starts
// is ended and its directories removed, also on Ctrl-C.

import { procedures, type Closable } from './procedures.js';
import { Verify } from './checks.js';

const USAGE = `usage: npm run runbook -- <${Object.keys(procedures).join('|')}|all>`;
/** Longest one procedure may take before it counts as failed; the slowest takes about a minute here. */
const PROCEDURE_TIMEOUT_MS = 300_000;

const open = new Set<Closable>();

async function perform(name: string): Promise<boolean> {
  const verify = new Verify(name);
  process.stdout.write(`runbook ${name}\n`);
  const started = Date.now();
  const opened: Closable[] = [];
  const track = <T extends Closable>(resource: T): T => {
    opened.push(resource);
    open.add(resource);
    return resource;
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`did not finish in ${PROCEDURE_TIMEOUT_MS / 1000} s`)), PROCEDURE_TIMEOUT_MS)));
    await Promise.race([procedures[name]!(verify, track), timeout]);
  } catch (error) {
    verify.check('the procedure ran to its end', false, error instanceof Error ? error.message : String(error));
  } finally {
    clearTimeout(timer);
    for (const resource of opened.reverse()) {
      await resource.close().catch(() => undefined);
      open.delete(resource);
    }
  }
  const figures = Object.entries(verify.figures).map(([key, value]) => `${key}: ${value}`).join(', ');
  process.stdout.write(`${verify.passed ? 'PASSED' : 'FAILED'} ${name} in ${((Date.now() - started) / 1000).toFixed(1)} s${figures === '' ? '' : ` (${figures})`}\n\n`);
  return verify.passed;
}

async function main(): Promise<void> {
  const chosen = process.argv[2];
  if (chosen === undefined || (chosen !== 'all' && procedures[chosen] === undefined)) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  const names = chosen === 'all' ? Object.keys(procedures) : [chosen];
  const failed: string[] = [];
  for (const name of names) if (!(await perform(name))) failed.push(name);
  const passed = names.length - failed.length;
  process.stdout.write(`runbook: ${passed} passed, ${failed.length} failed${failed.length > 0 ? ` (${failed.join(', ')})` : ''}\n`);
  process.exit(failed.length === 0 ? 0 : 1);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const resource of open) resource.killNow();
    process.exit(130);
  });
}
process.on('exit', () => {
  for (const resource of open) resource.killNow();
});

void main();
