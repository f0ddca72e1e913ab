// Fault schedules of a simulated run, one per scenario, all drawn from the run's seed:
// Engram's five partition scenarios (a clean majority|minority split, an asymmetric split,
// flapping links, cascading failures, congestion) plus kill -9 and restart, pause (SIGSTOP),
// clock skew, a random mix of them, and drains of nodes whose disks are then replaced. A schedule only describes the faults; `healAll`
// ends every one of them, so the liveness phase starts from a whole cluster.

import type { SeededRandom } from './random.js';

export const scenarios = ['split', 'asymmetric', 'flapping', 'cascading', 'congestion', 'kill', 'pause', 'skew', 'mix', 'crash-on-cut', 'damage', 'split-damage', 'drain'] as const;
export type Scenario = (typeof scenarios)[number];

/**
 * The scenarios a seed chooses from when none is named. Frozen: a seed must keep replaying
 * the run it once was, so new scenarios join 'mix' (or are named explicitly), never this list.
 */
export const seededScenarios: readonly Scenario[] = ['split', 'asymmetric', 'flapping', 'cascading', 'congestion', 'kill', 'pause', 'skew', 'mix'];

/** What a fault schedule may do to the cluster. */
export interface FaultTarget {
  partition(groups: readonly (readonly string[])[]): void;
  blockOneWay(from: string, to: string): void;
  heal(): void;
  crash(node: string): void;
  restart(node: string): void;
  pause(node: string): void;
  resume(node: string): void;
  skew(node: string, offsetMs: number): void;
  congest(on: boolean): void;
  /**
   * Kills (kill -9) the next `count` nodes that cut their log, at the instant the cut is
   * durable and before anything else runs on them, and restarts each after `downMs`.
   */
  crashOnCut(count: number, downMs: number): void;
  /** Deletes or alters a share of `node`'s records directly in its store, behind the log. */
  damage(node: string, fraction: number, draw: () => number): void;
  /**
   * Drains the node that leads the most shards (it hands them off and leaves), then stops it,
   * replaces its disk with an empty one, and starts it again after `downMs`: nothing
   * acknowledged may have depended on the disk that went.
   */
  drainAndReplace(downMs: number): void;
}

export interface FaultStep {
  atMs: number;
  label: string;
  run: (target: FaultTarget) => void;
}

/** A random split of `nodes` into a majority and a minority (the 3|2 split of five). */
function majoritySplit(nodes: readonly string[], random: SeededRandom): [string[], string[]] {
  const shuffled = [...nodes].sort((a, b) => (a < b ? -1 : 1));
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = random.index(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const minority = Math.max(1, Math.floor((nodes.length - 1) / 2));
  return [shuffled.slice(minority), shuffled.slice(0, minority)];
}

function pick(nodes: readonly string[], random: SeededRandom): string {
  return nodes[random.index(nodes.length)]!;
}

/** The fault steps of `scenario` between `startMs` and `startMs + durationMs`. */
export function faultSchedule(scenario: Scenario, nodes: readonly string[], random: SeededRandom, startMs: number, durationMs: number): FaultStep[] {
  const end = startMs + durationMs;
  switch (scenario) {
    case 'split': {
      const [major, minor] = majoritySplit(nodes, random);
      return [{ atMs: startMs + random.between(0, 1000), label: `partition ${major.join(',')} | ${minor.join(',')}`, run: (t) => t.partition([major, minor]) }];
    }
    case 'asymmetric': {
      const [major, minor] = majoritySplit(nodes, random);
      // The minority hears the majority, the majority does not hear the minority.
      const block = (t: FaultTarget) => {
        for (const from of minor) for (const to of major) t.blockOneWay(from, to);
      };
      return [{ atMs: startMs + random.between(0, 1000), label: `block ${minor.join(',')} -> ${major.join(',')}`, run: block }];
    }
    case 'flapping': {
      const steps: FaultStep[] = [];
      const periodMs = 3000;
      for (let cycle = 0; cycle < 10 && startMs + cycle * periodMs * 2 < end; cycle++) {
        const [major, minor] = majoritySplit(nodes, random);
        const down = startMs + cycle * periodMs * 2;
        steps.push({ atMs: down, label: `flap down ${major.join(',')} | ${minor.join(',')}`, run: (t) => t.partition([major, minor]) });
        steps.push({ atMs: down + periodMs, label: 'flap up', run: (t) => t.heal() });
      }
      return steps;
    }
    case 'cascading': {
      const victims = majoritySplit(nodes, random)[1].slice(0, Math.min(3, nodes.length - 1));
      const gap = Math.min(5000, durationMs / (victims.length + 1));
      return victims.map((node, i) => ({ atMs: startMs + gap * i, label: `kill ${node}`, run: (t: FaultTarget) => t.crash(node) }));
    }
    case 'congestion':
      return [{ atMs: startMs, label: 'congest 500±200 ms, 30% loss', run: (t) => t.congest(true) }];
    case 'crash-on-cut': {
      // The heal makes the side that lost cut its log and merge its writes back: kill it right then.
      const [major, minor] = majoritySplit(nodes, random);
      const healAt = startMs + durationMs / 2;
      const downMs = random.between(500, 3000);
      return [
        { atMs: startMs, label: `partition ${major.join(',')} | ${minor.join(',')}`, run: (t) => t.partition([major, minor]) },
        { atMs: healAt - 1, label: 'arm kill -9 on the next 3 log cuts', run: (t) => t.crashOnCut(3, downMs) },
        { atMs: healAt, label: 'heal', run: (t) => t.heal() },
      ];
    }
    case 'damage': {
      // Two copies damaged: one under load, one just before the clients stop, so nothing but
      // anti-entropy rewrites its records before the copies must agree.
      const first = pick(nodes, random);
      const second = pick(nodes.filter((n) => n !== first), random);
      const draw = random.fork('damage');
      return [
        { atMs: startMs + random.between(0, 1000), label: `damage 30% of ${first}'s records`, run: (t) => t.damage(first, 0.3, () => draw.next()) },
        { atMs: startMs + durationMs - 1, label: `damage 30% of ${second}'s records`, run: (t) => t.damage(second, 0.3, () => draw.next()) },
      ];
    }
    case 'split-damage': {
      // A 3|2 split with writes on both sides, then damage to one copy once it heals.
      const [major, minor] = majoritySplit(nodes, random);
      const victim = pick(nodes, random);
      const draw = random.fork('damage');
      return [
        { atMs: startMs, label: `partition ${major.join(',')} | ${minor.join(',')}`, run: (t) => t.partition([major, minor]) },
        { atMs: startMs + durationMs / 2, label: 'heal', run: (t) => t.heal() },
        { atMs: startMs + durationMs - 1, label: `damage 20% of ${victim}'s records`, run: (t) => t.damage(victim, 0.2, () => draw.next()) },
      ];
    }
    case 'drain': {
      const steps: FaultStep[] = [];
      for (let at = startMs + random.between(0, 2000); at < end - 3000; at += random.between(4000, 7000)) {
        const downMs = random.between(500, 3000);
        steps.push({ atMs: at, label: `drain the busiest primary, replace its disk, start it empty ${downMs.toFixed(0)} ms later`, run: (t) => t.drainAndReplace(downMs) });
      }
      return steps;
    }
    case 'kill': {
      const steps: FaultStep[] = [];
      for (let at = startMs + random.between(0, 2000); at < end - 1000; at += random.between(4000, 9000)) {
        const node = pick(nodes, random);
        const downMs = random.between(500, 4000);
        steps.push({ atMs: at, label: `kill -9 ${node}`, run: (t) => t.crash(node) });
        steps.push({ atMs: Math.min(end, at + downMs), label: `restart ${node}`, run: (t) => t.restart(node) });
      }
      return steps;
    }
    case 'pause': {
      const node = pick(nodes, random);
      const at = startMs + random.between(0, 2000);
      const pausedMs = random.between(3000, 8000);
      return [
        { atMs: at, label: `pause ${node}`, run: (t) => t.pause(node) },
        { atMs: Math.min(end, at + pausedMs), label: `resume ${node}`, run: (t) => t.resume(node) },
      ];
    }
    case 'skew':
      return nodes.map((node) => {
        const offset = Math.round(random.between(-3000, 3000));
        return { atMs: startMs, label: `skew ${node} ${offset} ms`, run: (t: FaultTarget) => t.skew(node, offset) };
      });
    case 'mix': {
      const steps: FaultStep[] = [];
      const single: Scenario[] = ['split', 'asymmetric', 'kill', 'pause', 'skew', 'congestion', 'crash-on-cut'];
      const sliceMs = Math.max(4000, durationMs / 3);
      for (let at = startMs; at + 1000 < end; at += sliceMs) {
        const chosen = single[random.index(single.length)]!;
        steps.push(...faultSchedule(chosen, nodes, random, at, Math.min(sliceMs - 500, end - at)));
        steps.push({ atMs: Math.min(end, at + sliceMs - 200), label: 'heal links', run: (t) => t.heal() });
      }
      return steps;
    }
  }
}
