// The fault schedule of a chaos run, drawn from its seed, and the runner that applies it to
// real processes. Faults come one at a time, each for a few seconds, with a gap of a healthy
// cluster between two, until the safety phase ends:
//
//   partition  a random majority/minority split, or the primary of a shard cut off from
//              every other node (the routes between the groups are cut at the proxies)
//   kill       kill -9 of a node (the primary of a shard, or any), restarted on the same
//              data directory and node id once the fault's time is up
//   pause      SIGSTOP of a node (the primary of a shard, or any), SIGCONT at the end
//
// The schedule (kinds, times, groups, which shard's primary) is a function of the seed and
// replays exactly; which node is primary of that shard is read from the cluster when the
// fault begins, and when no node can say, the seed's fallback node is taken instead.

import type { SeededRandom } from '../sim/random.js';
import { sleep } from './chaosWorkload.js';

export const nemesisKinds = ['partition', 'kill', 'pause'] as const;
export type NemesisKind = (typeof nemesisKinds)[number];

export type FaultVariant = 'split' | 'isolate-primary' | 'kill-primary' | 'kill-any' | 'pause-primary' | 'pause-any';

export interface PlannedFault {
  kind: NemesisKind;
  variant: FaultVariant;
  /** From the start of the safety phase. */
  atMs: number;
  durationMs: number;
  /** For a split: the groups. */
  groups?: string[][];
  /** For a primary variant: which shard's primary; for any variant (and as fallback): the node. */
  shard: number;
  node: string;
}

export interface AppliedFault {
  kind: NemesisKind;
  variant: FaultVariant;
  label: string;
  targets: string[];
  /** Run clock, ms since the run started. */
  startMs: number;
  endMs: number;
  /** For a kill: when the restarted node was ready again. */
  recoveredMs?: number;
  error?: string;
}

/** How long each kind of fault lasts: long enough for membership to see it (SWIM suspects within about a second) and for claims to follow. */
const FAULT_MS: Record<NemesisKind, [min: number, max: number]> = {
  partition: [3000, 8000],
  kill: [1000, 4000],
  pause: [2000, 6000],
};
/** A healthy cluster between two faults, so each starts from a whole cluster at least sometimes. */
const GAP_MS: [min: number, max: number] = [1000, 3000];
/** The first fault waits this long into the safety phase. */
const FIRST_FAULT_MS: [min: number, max: number] = [200, 1500];

/** The faults of a safety phase of `durationMs`, for the enabled `kinds`. */
export function nemesisSchedule(kinds: readonly NemesisKind[], nodes: readonly string[], shards: number, random: SeededRandom, durationMs: number): PlannedFault[] {
  const faults: PlannedFault[] = [];
  if (kinds.length === 0) return faults;
  for (let at = random.between(...FIRST_FAULT_MS); ; ) {
    const kind = kinds[random.index(kinds.length)]!;
    const length = random.between(...FAULT_MS[kind]);
    if (at + length > durationMs) break;
    const primary = random.chance(0.5);
    const shard = random.index(shards);
    const node = nodes[random.index(nodes.length)]!;
    const fault: PlannedFault = { kind, variant: variantOf(kind, primary), atMs: Math.round(at), durationMs: Math.round(length), shard, node };
    if (fault.variant === 'split') fault.groups = majoritySplit(nodes, random);
    faults.push(fault);
    at += length + random.between(...GAP_MS);
  }
  return faults;
}

function variantOf(kind: NemesisKind, primary: boolean): FaultVariant {
  switch (kind) {
    case 'partition':
      return primary ? 'isolate-primary' : 'split';
    case 'kill':
      return primary ? 'kill-primary' : 'kill-any';
    case 'pause':
      return primary ? 'pause-primary' : 'pause-any';
  }
}

/** A random majority and minority (2|1 of three, 3|2 of five). */
function majoritySplit(nodes: readonly string[], random: SeededRandom): string[][] {
  const shuffled = [...nodes];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = random.index(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const minority = Math.max(1, Math.floor((nodes.length - 1) / 2));
  return [shuffled.slice(minority).sort(), shuffled.slice(0, minority).sort()];
}

/** What the runner may do to the cluster. */
export interface ChaosFaultTarget {
  readonly nodes: readonly string[];
  partition(groups: readonly (readonly string[])[]): void;
  heal(): void;
  kill(node: string): Promise<void>;
  restart(node: string): Promise<void>;
  pause(node: string): void;
  resume(node: string): void;
  /** The node that is primary of `shard` now, or null when no node can say. */
  primaryOf(shard: number): Promise<string | null>;
}

/**
 * Applies `faults` one after another from `startMs` of the run clock: a fault begins at its
 * planned time or when the previous one is over, whichever is later, and none begins after
 * `endMs`. Each one is ended before the next begins; a kill ends when its node is restarted.
 */
export async function runNemesis(target: ChaosFaultTarget, faults: readonly PlannedFault[], clock: { nowMs(): number; startMs: number; endMs: number; stopped(): boolean }, applied: AppliedFault[]): Promise<void> {
  for (const fault of faults) {
    const beginAt = clock.startMs + fault.atMs;
    await sleep(beginAt - clock.nowMs());
    if (clock.stopped() || clock.nowMs() + fault.durationMs > clock.endMs) return;
    applied.push(await applyFault(target, fault, clock));
  }
}

async function applyFault(target: ChaosFaultTarget, fault: PlannedFault, clock: { nowMs(): number }): Promise<AppliedFault> {
  const victim = fault.variant.endsWith('primary') ? ((await target.primaryOf(fault.shard)) ?? fault.node) : fault.node;
  const record: AppliedFault = { kind: fault.kind, variant: fault.variant, label: '', targets: [], startMs: Math.round(clock.nowMs()), endMs: 0 };
  try {
    switch (fault.kind) {
      case 'partition': {
        const groups = fault.groups ?? [[victim], target.nodes.filter((node) => node !== victim)];
        record.label = `partition ${groups.map((group) => group.join(',')).join(' | ')}${fault.variant === 'isolate-primary' ? ` (primary of shard ${fault.shard} isolated)` : ''}`;
        record.targets = fault.variant === 'split' ? groups[1]! : [victim];
        target.partition(groups);
        await sleep(fault.durationMs);
        target.heal();
        record.endMs = Math.round(clock.nowMs());
        break;
      }
      case 'kill': {
        record.label = `kill -9 ${victim}${fault.variant === 'kill-primary' ? ` (primary of shard ${fault.shard})` : ''}, restart after ${fault.durationMs} ms`;
        record.targets = [victim];
        await target.kill(victim);
        await sleep(fault.durationMs);
        record.endMs = Math.round(clock.nowMs());
        await target.restart(victim);
        record.recoveredMs = Math.round(clock.nowMs());
        break;
      }
      case 'pause': {
        record.label = `SIGSTOP ${victim}${fault.variant === 'pause-primary' ? ` (primary of shard ${fault.shard})` : ''} for ${fault.durationMs} ms`;
        record.targets = [victim];
        target.pause(victim);
        await sleep(fault.durationMs);
        target.resume(victim);
        record.endMs = Math.round(clock.nowMs());
        break;
      }
    }
  } catch (error) {
    record.error = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    record.endMs = Math.round(clock.nowMs());
  }
  return record;
}
