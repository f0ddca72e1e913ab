// `npm run chaos -- --seed S [--nodes 3|5] [--duration-s D] [--nemesis partition,kill,pause,all] [--json] [--keep]`
// One seeded fault run on real processes (docs/chaos.md), judged by the history checker.
// Prints a short report, or one JSON object with --json; progress goes to stderr. Exits 0
// when no check reports a violation, 1 when one does, 2 when the run itself failed (a
// process did not start, the routes bypassed the proxies, the run was interrupted).

import { choiceFlag, numberFlag, walkFlags } from '../../src/cliFlags.js';
import { nemesisKinds, type NemesisKind } from './chaosNemesis.js';
import { runChaos, type ChaosOptions, type ChaosResult } from './chaosRun.js';

const USAGE = 'usage: npm run chaos -- --seed S [--nodes 3|5] [--duration-s D] [--nemesis partition,kill,pause,all] [--json] [--keep]';
const nodeCounts = ['3', '5'] as const;
const nemesisChoices = [...nemesisKinds, 'all'] as const;

interface CliOptions extends ChaosOptions {
  json: boolean;
}

export function parseChaosFlags(argv: readonly string[]): CliOptions {
  const options: CliOptions = { seed: 1, nodes: 3, durationS: 60, nemesis: nemesisKinds, json: false };
  let seeded = false;
  walkFlags(argv, (flag, raw, argument) => {
    switch (flag) {
      case '--seed':
        options.seed = Math.floor(numberFlag(flag, raw(), USAGE));
        seeded = true;
        break;
      case '--nodes':
        options.nodes = Number(choiceFlag(flag, raw(), nodeCounts));
        break;
      case '--duration-s': {
        const seconds = numberFlag(flag, raw(), USAGE);
        if (seconds < 1) throw new Error(`--duration-s must be at least 1\n${USAGE}`);
        options.durationS = seconds;
        break;
      }
      case '--nemesis':
        options.nemesis = nemesisList(flag, raw());
        break;
      case '--json':
        options.json = true;
        break;
      case '--keep':
        options.keep = true;
        break;
      default:
        throw new Error(`unknown argument ${argument}\n${USAGE}`);
    }
  });
  if (!seeded) throw new Error(`--seed is required, so that every run can be replayed\n${USAGE}`);
  return options;
}

/** A comma-separated list of nemesis kinds; `all` means every one. */
function nemesisList(flag: string, raw: string | undefined): NemesisKind[] {
  const names = (raw ?? '').split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0) throw new Error(`${flag} needs one or more of ${nemesisChoices.join(', ')}`);
  const kinds = new Set<NemesisKind>();
  for (const name of names) {
    const chosen = choiceFlag(flag, name, nemesisChoices);
    for (const kind of chosen === 'all' ? nemesisKinds : [chosen]) kinds.add(kind);
  }
  return nemesisKinds.filter((kind) => kinds.has(kind));
}

function summary(result: ChaosResult): string {
  const lines = [
    `seed ${result.seed}: ${result.nodes} nodes, RF ${result.replicationFactor}, ${result.shards} shards, ${result.durationS} s of ${result.nemesis.join(', ')}; ${result.pass ? 'PASS' : 'FAIL'}`,
    `  routes: ${result.routes.routes}, every one through a proxy, at the start and after the heal`,
    `  faults: ${result.nemeses.length}`,
    ...result.nemeses.map((fault) => `    ${String(fault.startMs).padStart(6)}-${String(fault.endMs).padEnd(6)} ms  ${fault.label}${fault.recoveredMs === undefined ? '' : `, ready again at ${fault.recoveredMs} ms`}${fault.error === undefined ? '' : ` (failed: ${fault.error})`}`),
    `  ops: ${result.ops.total} (${result.ops.writes} writes, ${result.ops.reads} reads); ok ${result.ops.ok}, fail ${result.ops.fail}, info ${result.ops.info}; acknowledged QUORUM ${result.ops.acknowledgedQuorum}, ONE ${result.ops.acknowledgedOne}`,
    `  lost ${result.violations['lost']}, phantoms ${result.violations['phantoms']}, duplicated ${result.violations['duplicated']}, divergent shards ${result.violations['divergentShards']}, max primaries per epoch ${result.maxPrimariesPerEpoch} (${result.primaryClaims} claims, ${result.minorityClaims} without a majority; ${result.logCuts} logs cut back after a heal); ${result.finalReads} final reads`,
    `  converged ${result.convergenceMs ?? 'never'} ms after the heal (reads and logs agreed after ${result.agreedBeforeDigestsMs ?? 'never'} ms), again ${result.reconvergenceMs ?? 'never'} ms after the last writes; stable within 5 s: ${(result.stableShare * 100).toFixed(1)}% (p95 ${result.stableP95Ms ?? '-'} ms), stale reads ${result.staleReads}`,
    `  concurrent versions: ${result.conflicts.readsWithSiblings} reads and ${result.conflicts.finalReadsWithSiblings} final reads showed siblings; ${result.wallMs} ms wall`,
  ];
  for (const violation of result.violationDetails) lines.push(`  VIOLATION ${violation}`);
  for (const lost of result.examples.lost) lines.push(`  LOST op ${lost.opId} ${lost.memoryId} ${lost.token} (${lost.consistency} via ${lost.node}) ${JSON.stringify(lost.version)}; final reads ${JSON.stringify(lost.finalReads)}`);
  if (!result.pass) lines.push(`  replay: ${result.replay}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  let options: CliOptions;
  try {
    options = parseChaosFlags(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    process.stderr.write(`chaos: ${signal}, stopping every process of the run\n`);
    // A second signal does not wait for the graceful path; the exit handler kills what is left.
    if (signals > 1) process.exit(2);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const { json, ...chaos } = options;
  try {
    const result = await runChaos({ ...chaos, signal: controller.signal, progress: (line) => process.stderr.write(`chaos: ${line}\n`) });
    console.log(json ? JSON.stringify(result) : summary(result));
    process.exit(result.pass ? 0 : 1);
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `\n  cause: ${error.cause.stack ?? error.cause.message}` : '';
    process.stderr.write(`chaos: ${error instanceof Error ? error.message : String(error)}${cause}\n`);
    if (json) console.log(JSON.stringify({ seed: options.seed, pass: false, harnessFailure: error instanceof Error ? error.message : String(error) }));
    process.exit(2);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
