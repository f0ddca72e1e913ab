// `npm run sim:membership -- --nodes N --seed S [--loss P] [--duration-ms D] [--kill-fraction F] [--json]`
// Runs a seeded membership simulation and prints its figures; with --json, one JSON line.
// All times except wallMs are virtual; the same arguments always give the same figures.

import { numberFlag, walkFlags } from '../../src/cliFlags.js';
import { runMembershipSimulation, type MembershipSimulationOptions } from './membershipSimulation.js';

const USAGE = 'usage: npm run sim:membership -- --nodes N --seed S [--loss P] [--duration-ms D] [--kill-fraction F] [--json]';

function parse(argv: readonly string[]): MembershipSimulationOptions & { json: boolean } {
  const options: MembershipSimulationOptions & { json: boolean } = { nodes: 100, seed: 42, json: false };
  walkFlags(argv, (flag, raw, argument) => {
    const value = () => numberFlag(flag, raw(), USAGE);
    switch (flag) {
      case '--nodes':
        options.nodes = Math.floor(value());
        break;
      case '--seed':
        options.seed = Math.floor(value());
        break;
      case '--loss':
        options.loss = value();
        break;
      case '--duration-ms':
        options.durationMs = value();
        break;
      case '--kill-fraction':
        options.killFraction = value();
        break;
      case '--json':
        options.json = true;
        break;
      default:
        throw new Error(`unknown argument ${argument}\n${USAGE}`);
    }
  });
  if (options.nodes < 2) throw new Error(`--nodes must be at least 2\n${USAGE}`);
  if ((options.loss ?? 0) < 0 || (options.loss ?? 0) >= 1) throw new Error(`--loss must be in [0, 1)\n${USAGE}`);
  return options;
}

try {
  const { json, ...options } = parse(process.argv.slice(2));
  const result = await runMembershipSimulation(options);
  if (json) {
    const { nodes, seed, detectionMeanMs, detectionP99Ms, falsePositives, msgsPerNodePerSec, convergenceMs, wallMs } = result;
    process.stdout.write(`${JSON.stringify({ nodes, seed, detectionMeanMs, detectionP99Ms, falsePositives, msgsPerNodePerSec, convergenceMs, wallMs })}\n`);
  } else {
    for (const [key, value] of Object.entries(result)) process.stdout.write(`${key.padEnd(22)} ${typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(2) : String(value)}\n`);
  }
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
}
