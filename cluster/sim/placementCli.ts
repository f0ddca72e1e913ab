// `npm run sim:placement -- --nodes N --spaces S [--vnodes V] [--strategy rendezvous|ring] [--json]`
// Prints placement balance and movement measured with the defaults (rendezvous placement);
// `--strategy ring --vnodes V` measures a consistent-hash ring for comparison.

import { walkFlags } from '../../src/cliFlags.js';
import { runPlacementSimulation, type PlacementSimulationOptions } from './placementSimulation.js';

const USAGE = 'usage: npm run sim:placement -- --nodes N --spaces S [--vnodes V] [--strategy rendezvous|ring] [--json]';

try {
  const options: PlacementSimulationOptions & { json: boolean } = { nodes: 10, spaces: 10_000, json: false };
  walkFlags(process.argv.slice(2), (flag, raw, argument) => {
    const number = () => {
      const value = Number(raw());
      if (!Number.isInteger(value) || value < 1) throw new Error(`${flag} needs a positive integer\n${USAGE}`);
      return value;
    };
    if (flag === '--nodes') options.nodes = number();
    else if (flag === '--spaces') options.spaces = number();
    else if (flag === '--vnodes') options.vnodes = number();
    else if (flag === '--strategy') {
      const value = raw();
      if (value !== 'rendezvous' && value !== 'ring') throw new Error(`--strategy is rendezvous or ring\n${USAGE}`);
      options.strategy = value;
    } else if (flag === '--json') options.json = true;
    else throw new Error(`unknown argument ${argument}\n${USAGE}`);
  });
  const { json, ...simulation } = options;
  const result = runPlacementSimulation(simulation);
  if (json) {
    process.stdout.write(`${JSON.stringify({ stddevPct: result.stddevPct, maxOverMeanPct: result.maxOverMeanPct, movedOnJoinPct: result.movedOnJoinPct })}\n`);
  } else {
    for (const [key, value] of Object.entries(result)) process.stdout.write(`${key.padEnd(20)} ${typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(3) : String(value)}\n`);
  }
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
}
