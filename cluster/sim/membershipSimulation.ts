// A seeded membership run in the simulator: N nodes join through one seed, converge, then a
// fraction of them crash at once. It reports how fast the survivors detect the crashes,
// whether any live node was ever declared dead (a false positive), and the message load.
// Everything but wallMs is virtual time, so the same options always give the same result.

import { defaultMembershipConfig, type MembershipConfig } from '../membership/membershipConfig.js';
import { Swim } from '../membership/swim.js';
import { SwimShell, type MembershipListener } from '../membership/swimShell.js';
import { SimNetwork } from './simNetwork.js';

export interface MembershipSimulationOptions {
  nodes: number;
  seed: number;
  /** Message loss on every link, 0..1. Default 0. */
  loss?: number;
  /** Virtual duration of the whole run. Default 60,000 ms. */
  durationMs?: number;
  /** Share of nodes crashed at once after convergence. Default 0.1. */
  killFraction?: number;
  config?: Partial<MembershipConfig>;
}

export interface MembershipSimulationResult {
  nodes: number;
  seed: number;
  /** Mean time from a crash until a surviving node marks the crashed node DEAD, over every (survivor, crashed) pair. */
  detectionMeanMs: number;
  detectionP99Ms: number;
  /** Mean time until the first survivor marks a crashed node DEAD. */
  firstDetectionMeanMs: number;
  /** Times a node that never crashed was marked DEAD by anyone. */
  falsePositives: number;
  /** Messages sent per node per second, after joining converged. */
  msgsPerNodePerSec: number;
  /** Time until every node saw every other as ALIVE after start. */
  convergenceMs: number;
  /** Pairs where a survivor never marked a crashed node DEAD before the run ended. */
  undetected: number;
  wallMs: number;
}

/** A SWIM shell per node on the simulator, each on its node's virtual clock. Nodes join through `seed`. */
export function simulatedMembers(network: SimNetwork, ids: readonly string[], config: MembershipConfig, listenerFor: (id: string) => MembershipListener = () => ({})): SwimShell[] {
  return ids.map((id) => {
    const random = network.randomFor(`swim:${id}`);
    const swim = new Swim({ self: id, config, random: () => random.next(), nowMs: network.nodeNow(id) });
    const clock = {
      nowMs: () => network.nodeNow(id),
      schedule: (atMs: number, work: () => void) => {
        let cancelled = false;
        // The node's clock may be skewed; the network schedules on global time.
        network.runOnNode(id, atMs - (network.nodeNow(id) - network.nowMs), () => {
          if (!cancelled) work();
        });
        return () => {
          cancelled = true;
        };
      },
    };
    return new SwimShell(swim, network.transport(id), 'sim', clock, listenerFor(id));
  });
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export async function runMembershipSimulation(options: MembershipSimulationOptions): Promise<MembershipSimulationResult> {
  const started = performance.now();
  const durationMs = options.durationMs ?? 60_000;
  const config = { ...defaultMembershipConfig, ...options.config };
  const network = new SimNetwork({ seed: options.seed, link: { loss: options.loss ?? 0 } });
  const ids = Array.from({ length: options.nodes }, (_, i) => `n${i}`);
  const alive = new Map(ids.map((id) => [id, 0]));
  const killed = new Map<string, number>();
  const detections: number[] = [];
  const firstDetection = new Map<string, number>();
  let falsePositives = 0;
  let convergenceMs = Number.NaN;
  let messages = 0;
  let messagesAtConvergence = 0;

  const shells = simulatedMembers(network, ids, config, (id) => ({
      messageSent: () => messages++,
      memberChanged: (node, state, _incarnation, previous) => {
        if (state === 'ALIVE' && previous !== 'ALIVE' && previous !== 'SUSPECT') alive.set(id, alive.get(id)! + 1);
        if ((state === 'DEAD' || state === 'LEFT') && (previous === 'ALIVE' || previous === 'SUSPECT')) alive.set(id, alive.get(id)! - 1);
        if (state !== 'DEAD') return;
        const crashedAt = killed.get(node);
        if (crashedAt === undefined) {
          falsePositives++;
          return;
        }
        if (killed.has(id)) return;
        detections.push(network.nowMs - crashedAt);
        if (!firstDetection.has(node)) firstDetection.set(node, network.nowMs - crashedAt);
      },
    }));

  shells.forEach((shell, i) => shell.start(i === 0 ? [] : ['n0']));
  const checkConvergence = () => {
    if (!Number.isNaN(convergenceMs)) return;
    if ([...alive.values()].every((count) => count === options.nodes - 1)) {
      convergenceMs = network.nowMs;
      messagesAtConvergence = messages;
      return;
    }
    network.at(network.nowMs + 50, checkConvergence);
  };
  network.at(0, checkConvergence);

  // Crash after joining settles, early enough to leave time to detect.
  const killAtMs = Math.min(durationMs / 2, 10_000);
  const kills = network.randomFor('kills');
  const victims = [...ids];
  for (let i = victims.length - 1; i > 0; i--) {
    const j = kills.index(i + 1);
    [victims[i], victims[j]] = [victims[j]!, victims[i]!];
  }
  const killCount = Math.round(options.nodes * (options.killFraction ?? 0.1));
  network.at(killAtMs, () => {
    for (const victim of victims.slice(0, killCount)) {
      killed.set(victim, network.nowMs);
      network.crash(victim);
    }
  });

  await network.runUntil(durationMs);
  for (const shell of shells) shell.stop();

  const survivors = options.nodes - killCount;
  const sorted = [...detections].sort((a, b) => a - b);
  const steadyMs = durationMs - (Number.isNaN(convergenceMs) ? 0 : convergenceMs);
  return {
    nodes: options.nodes,
    seed: options.seed,
    detectionMeanMs: sorted.length === 0 ? Number.NaN : sorted.reduce((a, b) => a + b, 0) / sorted.length,
    detectionP99Ms: percentile(sorted, 99),
    firstDetectionMeanMs: firstDetection.size === 0 ? Number.NaN : [...firstDetection.values()].reduce((a, b) => a + b, 0) / firstDetection.size,
    falsePositives,
    msgsPerNodePerSec: ((messages - messagesAtConvergence) / options.nodes / steadyMs) * 1000,
    convergenceMs,
    undetected: survivors * killCount - detections.length,
    wallMs: performance.now() - started,
  };
}
