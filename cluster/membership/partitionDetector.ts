// Partition detection (Engram 003): a state machine over periodic checks of the share of
// known members this node can reach. One check below the majority threshold is enough to
// call the node PARTITIONED, because serving as if connected while cut off costs more than
// a brief false alarm. Coming back is slower on purpose: a node is HEALING once it reaches
// a majority again and CONNECTED only after the fraction held for the whole detection
// window, so a flapping link does not count as one partition healed after another. The
// detector is sans-I/O: the caller passes the time and the fraction into every call, so it
// runs unchanged on the real clock and in the simulator. While partitioned or healing,
// reads scale their confidence by `readConfidenceFactor`.

export type PartitionState = 'CONNECTED' | 'PARTITIONED' | 'HEALING';

export interface PartitionDetectorSettings {
  /** Share of known members (this node included) that must be reachable, in (0, 1]. Default 0.6: Engram 003's majority threshold; in a clean 3|2 split of five nodes the majority (0.6) stays connected and the minority (0.4) is partitioned. */
  threshold: number;
  /** How long the fraction must stay at or above the threshold before a healing node is CONNECTED again, in ms. Default 10,000 ms: Engram 003's detection window, long enough for SWIM on both sides of a healed split to refute and merge. */
  windowMs: number;
  /** Time between checks, in ms; at most `windowMs`. Default 2000 ms: Engram 003's check interval, so a partition is seen within 2 s and the window spans five checks. */
  checkIntervalMs: number;
}

export const defaultPartitionDetectorSettings: PartitionDetectorSettings = {
  threshold: 0.6,
  windowMs: 10_000,
  checkIntervalMs: 2000,
};

export interface PartitionSnapshot {
  state: PartitionState;
  /** Times the node went from CONNECTED to PARTITIONED. */
  partitionsDetected: number;
  /** Times the node went from HEALING to CONNECTED. */
  partitionsHealed: number;
  /** Time since the current partition began, through HEALING until CONNECTED; 0 when CONNECTED. */
  durationMs: number;
}

/** Fails at start-up on settings that could never heal or would check in a busy loop. */
export function validatePartitionDetectorSettings(settings: PartitionDetectorSettings): void {
  const { threshold, windowMs, checkIntervalMs } = settings;
  // Written as negations so NaN fails too.
  if (!(threshold > 0 && threshold <= 1)) throw new RangeError(`partition detector threshold must be in (0, 1], got ${threshold}`);
  if (!(checkIntervalMs > 0 && Number.isFinite(checkIntervalMs))) throw new RangeError(`partition detector checkIntervalMs must be a positive number of ms, got ${checkIntervalMs}`);
  if (!(checkIntervalMs <= windowMs && Number.isFinite(windowMs))) {
    throw new RangeError(`partition detector checkIntervalMs (${checkIntervalMs}) must not exceed windowMs (${windowMs}): the window must span at least one check`);
  }
}

export class PartitionDetector {
  readonly settings: PartitionDetectorSettings;
  private state: PartitionState = 'CONNECTED';
  private partitionsDetected = 0;
  private partitionsHealed = 0;
  /** When the current partition began; kept through HEALING. */
  private partitionSinceMs = 0;
  /** When the fraction last came back to the threshold. */
  private healingSinceMs = 0;

  constructor(settings: Partial<PartitionDetectorSettings> = {}) {
    this.settings = { ...defaultPartitionDetectorSettings, ...settings };
    validatePartitionDetectorSettings(this.settings);
  }

  /** Feeds one check; returns the state after it. */
  onCheck(nowMs: number, reachableFraction: number): PartitionState {
    const reachable = clampFraction(reachableFraction) >= this.settings.threshold;
    if (this.state === 'CONNECTED' && !reachable) {
      this.state = 'PARTITIONED';
      this.partitionsDetected++;
      this.partitionSinceMs = nowMs;
    } else if (this.state === 'PARTITIONED' && reachable) {
      this.state = 'HEALING';
      this.healingSinceMs = nowMs;
    } else if (this.state === 'HEALING') {
      this.state = healingOutcome(reachable, nowMs - this.healingSinceMs, this.settings.windowMs);
      if (this.state === 'CONNECTED') this.partitionsHealed++;
    }
    return this.state;
  }

  snapshot(nowMs: number): PartitionSnapshot {
    const durationMs = this.state === 'CONNECTED' ? 0 : Math.max(0, nowMs - this.partitionSinceMs);
    return { state: this.state, partitionsDetected: this.partitionsDetected, partitionsHealed: this.partitionsHealed, durationMs };
  }
}

/** A drop during healing is the same partition going on, not a new one, so it is not counted. */
function healingOutcome(reachable: boolean, healedForMs: number, windowMs: number): PartitionState {
  if (!reachable) return 'PARTITIONED';
  return healedForMs >= windowMs ? 'CONNECTED' : 'HEALING';
}

/** A partitioned read loses up to half its confidence, in proportion to the members it cannot reach (Engram 003). */
const partitionedFloor = 0.5;
/** A healing read keeps 90% of its confidence: the other side's writes may not have merged yet (Engram 003). */
const healingFactor = 0.9;

/** Confidence of a read while partitioned: max(c × (1 − 0.5 × (1 − r)), c × 0.5), r clamped to [0, 1]. */
export function partitionedConfidence(confidence: number, reachableFraction: number): number {
  const unreachable = 1 - clampFraction(reachableFraction);
  return Math.max(confidence * (1 - partitionedFloor * unreachable), confidence * partitionedFloor);
}

/** Confidence of a read while healing: c × 0.9. */
export function healingConfidence(confidence: number): number {
  return confidence * healingFactor;
}

/** The multiplier a read's confidence gets in `state`, in [0.5, 1]. */
export function readConfidenceFactor(state: PartitionState, reachableFraction: number): number {
  if (state === 'CONNECTED') return 1;
  if (state === 'HEALING') return healingFactor;
  return Math.max(1 - partitionedFloor * (1 - clampFraction(reachableFraction)), partitionedFloor);
}

/** NaN counts as nothing reachable, the cautious reading of a fraction that cannot be trusted. */
function clampFraction(fraction: number): number {
  return Number.isNaN(fraction) ? 0 : Math.min(1, Math.max(0, fraction));
}
