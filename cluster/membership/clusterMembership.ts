// Cluster membership of a running node: the SWIM shell on real time over a Transport, plus
// zero-config discovery. A starting node announces itself on `<cluster>.join`; every member
// that hears the announcement starts a state exchange with it, so it learns the cluster
// from whoever is up, and static seeds (ENGRAM_SEEDS) are synced with directly. While the
// node knows no other live member it repeats the announcement, so start order does not
// matter. Partition awareness: the node reports the share of known members it can reach
// and calls itself partitioned below the majority threshold; a PartitionDetector, checked
// on a timer, turns that fraction into CONNECTED, PARTITIONED or HEALING.

import { realClock, type NodeClock } from '../clock.js';
import { broadcastSubject, services } from '../transport/subjects.js';
import type { Subscription, Transport } from '../transport/transport.js';
import { defaultMembershipConfig, type MembershipConfig } from './membershipConfig.js';
import { partitionHealth } from './partition.js';
import { PartitionDetector, type PartitionDetectorSettings, type PartitionSnapshot, type PartitionState } from './partitionDetector.js';
import { parseSeeds, resolveSrvSeeds, type SeedList, type SrvResolver } from './seeds.js';
import { Swim, type MemberState, type MemberView } from './swim.js';
import { SwimShell, type MembershipListener } from './swimShell.js';

export interface ClusterMembershipOptions {
  transport: Transport;
  cluster: string;
  nodeId: string;
  /** Static seed node ids. */
  seeds: readonly string[];
  meta: Readonly<Record<string, string>>;
  config?: Partial<MembershipConfig>;
  listener?: MembershipListener;
  /** Share of known members that must be reachable. Default 0.6 (Engram's majority threshold). */
  majorityThreshold?: number;
  /** Partition detector settings; its threshold defaults to `majorityThreshold`. */
  partitionDetector?: Partial<PartitionDetectorSettings>;
  /** How often the join announcement repeats while alone. Default 1000 ms. */
  announceIntervalMs?: number;
  /** How often a node that is not alone still announces itself. Default 10,000 ms (Engram's partition detection window). */
  rediscoveryIntervalMs?: number;
  /** How often `dns+srv:` seeds are resolved again. Default 30,000 ms (Engram's discovery refresh). */
  srvRefreshMs?: number;
  /** Resolver for `dns+srv:` seeds; injected in tests. */
  resolveSrv?: SrvResolver;
  logger?: { warn(object: object, message?: string): void; info(object: object, message?: string): void };
  random?: () => number;
  /** Time and timers; the simulator passes virtual ones. Default: the real clock. */
  clock?: MembershipClock;
}

/** The clock of a membership node: now, one-shot timers and repeating ones. */
export type MembershipClock = NodeClock;

export interface ClusterHealth {
  self: MemberView;
  nodes: MemberView[];
  partitioned: boolean;
  reachableFraction: number;
  partitionState: PartitionState;
}

/** The detector's state as of its last check, with the reachable fraction right now. */
export interface PartitionStatus extends PartitionSnapshot {
  reachableFraction: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class ClusterMembership {
  readonly swim: Swim;
  private readonly shell: SwimShell;
  private announceSubscription: Subscription | undefined;
  private stopAnnouncing: (() => void) | undefined;
  private readonly threshold: number;
  private stopSrvRefresh: (() => void) | undefined;
  private readonly partitionDetector: PartitionDetector;
  private stopPartitionChecks: (() => void) | undefined;
  private readonly clock: MembershipClock;
  private readonly seeds: SeedList;
  private warnedAlone = false;

  constructor(private readonly options: ClusterMembershipOptions) {
    const config = { ...defaultMembershipConfig, ...options.config };
    this.clock = options.clock ?? realClock;
    this.swim = new Swim({ self: options.nodeId, config, random: options.random ?? Math.random, nowMs: this.clock.nowMs(), meta: options.meta });
    this.threshold = options.majorityThreshold ?? 0.6;
    this.partitionDetector = new PartitionDetector({ ...options.partitionDetector, threshold: options.partitionDetector?.threshold ?? this.threshold });
    this.seeds = parseSeeds(options.seeds);
    this.shell = new SwimShell(this.swim, options.transport, options.cluster, { nowMs: () => this.clock.nowMs(), schedule: (atMs, work) => this.clock.schedule(atMs, work) }, options.listener);
  }

  start(): void {
    const { transport, cluster, nodeId } = this.options;
    const subject = broadcastSubject(cluster, services.discovery);
    this.announceSubscription = transport.subscribe(subject, (message) => {
      let announced: { node?: unknown };
      try {
        announced = JSON.parse(decoder.decode(message.data)) as { node?: unknown };
      } catch {
        return;
      }
      if (typeof announced.node !== 'string' || announced.node === nodeId) return;
      // Only members that do not count the announcer as live answer, so a periodic
      // announcement costs O(1) exchanges per node once the cluster has converged.
      const state = this.swim.stateOf(announced.node);
      if (state !== 'ALIVE' && state !== 'SUSPECT') this.shell.syncWith(announced.node);
    });
    this.shell.start(this.seeds.nodes);
    const clock = this.clock;
    const startedAt = clock.nowMs();
    let lastAnnouncedAt = Number.NEGATIVE_INFINITY;
    const announce = () => {
      // Announce at once while alone; otherwise now and then, so sides of a healed partition find each other.
      const alone = this.swim.liveCount() <= 1;
      if (!alone && clock.nowMs() - lastAnnouncedAt < (this.options.rediscoveryIntervalMs ?? 10_000)) return;
      lastAnnouncedAt = clock.nowMs();
      transport.send(subject, encoder.encode(JSON.stringify({ node: nodeId })));
      const seedCount = this.seeds.nodes.length + this.seeds.srvNames.length;
      if (!this.warnedAlone && seedCount > 0 && clock.nowMs() - startedAt > 5000) {
        this.warnedAlone = true;
        this.options.logger?.warn({ seeds: this.options.seeds }, 'no seed answered within 5 s; still joining through the cluster join subject and retrying the seeds');
      }
    };
    announce();
    this.stopAnnouncing = clock.every(this.options.announceIntervalMs ?? 1000, announce);
    const checkPartition = () => this.partitionDetector.onCheck(clock.nowMs(), partitionHealth(this.swim.view(), this.threshold).reachableFraction);
    checkPartition();
    this.stopPartitionChecks = clock.every(this.partitionDetector.settings.checkIntervalMs, checkPartition);
    if (this.seeds.srvNames.length > 0) {
      void this.refreshSrvSeeds();
      this.stopSrvRefresh = clock.every(this.options.srvRefreshMs ?? 30_000, () => void this.refreshSrvSeeds());
    }
  }

  /** Resolves the `dns+srv:` seeds again; a failed lookup keeps the seeds already known. */
  private async refreshSrvSeeds(): Promise<void> {
    for (const name of this.seeds.srvNames) {
      try {
        const found = await resolveSrvSeeds(name, this.options.resolveSrv);
        this.shell.addSeeds(found);
      } catch (error) {
        this.options.logger?.warn({ name, err: error }, 'DNS SRV seed lookup failed; joining through the cluster join subject meanwhile');
      }
    }
  }

  health(): ClusterHealth {
    const view = this.swim.view();
    return { self: view[0]!, nodes: view, ...partitionHealth(view, this.threshold), partitionState: this.partitionDetector.snapshot(this.clock.nowMs()).state };
  }

  /** Counters and state from the detector's last check; the fraction is measured now, so it may lead the state by up to one check. */
  partitionStatus(): PartitionStatus {
    const { reachableFraction } = partitionHealth(this.swim.view(), this.threshold);
    return { ...this.partitionDetector.snapshot(this.clock.nowMs()), reachableFraction };
  }

  /** Members that hold data, as placement sees them: ALIVE and SUSPECT (a suspect may still refute). */
  liveMembers(): { id: string; rack: string | undefined; zone: string | undefined }[] {
    return this.swim
      .view()
      .filter((m) => m.state === 'ALIVE' || m.state === 'SUSPECT')
      .map((m) => ({ id: m.node, rack: m.meta['rack'], zone: m.meta['zone'] }));
  }

  /** Every member in the view with its state, DEAD and LEFT included. */
  members(): { id: string; rack: string | undefined; zone: string | undefined; state: MemberState }[] {
    return this.swim.view().map((m) => ({ id: m.node, rack: m.meta['rack'], zone: m.meta['zone'], state: m.state }));
  }

  /** Grows whenever the view changes. */
  version(): number {
    return this.swim.viewVersion;
  }

  membersByState(): Record<MemberState, number> {
    const counts: Record<MemberState, number> = { ALIVE: 0, SUSPECT: 0, DEAD: 0, LEFT: 0 };
    for (const member of this.swim.view()) counts[member.state]++;
    return counts;
  }

  /** Leaves gracefully (announcing LEFT) unless `leave` is false, then stops. */
  stop(leave = true): void {
    this.stopAnnouncing?.();
    this.stopSrvRefresh?.();
    this.stopPartitionChecks?.();
    this.announceSubscription?.unsubscribe();
    if (leave) this.shell.leave();
    else this.shell.stop();
  }
}
