// Cluster membership of a running node: the SWIM shell on real time over a Transport, plus
// zero-config discovery. A starting node announces itself on `<cluster>.join`; every member
// that hears the announcement starts a state exchange with it, so it learns the cluster
// from whoever is up, and static seeds (ENGRAM_SEEDS) are synced with directly. While the
// node knows no other live member it repeats the announcement, so start order does not
// matter. Partition awareness: the node reports the share of known members it can reach
// and calls itself partitioned below the majority threshold.

import { broadcastSubject, services } from '../transport/subjects.js';
import type { Subscription, Transport } from '../transport/transport.js';
import { defaultMembershipConfig, type MembershipConfig } from './membershipConfig.js';
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
  /** How often the join announcement repeats while alone. Default 1000 ms. */
  announceIntervalMs?: number;
  random?: () => number;
}

export interface ClusterHealth {
  self: MemberView;
  nodes: MemberView[];
  partitioned: boolean;
  reachableFraction: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class ClusterMembership {
  readonly swim: Swim;
  private readonly shell: SwimShell;
  private announceSubscription: Subscription | undefined;
  private announceTimer: NodeJS.Timeout | undefined;
  private readonly threshold: number;

  constructor(private readonly options: ClusterMembershipOptions) {
    const config = { ...defaultMembershipConfig, ...options.config };
    this.swim = new Swim({ self: options.nodeId, config, random: options.random ?? Math.random, nowMs: Date.now(), meta: options.meta });
    this.threshold = options.majorityThreshold ?? 0.6;
    this.shell = new SwimShell(
      this.swim,
      options.transport,
      options.cluster,
      {
        nowMs: () => Date.now(),
        schedule: (atMs, work) => {
          const timer = setTimeout(work, Math.max(0, atMs - Date.now()));
          timer.unref();
          return () => clearTimeout(timer);
        },
      },
      options.listener,
    );
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
      if (typeof announced.node === 'string' && announced.node !== nodeId) this.shell.syncWith(announced.node);
    });
    this.shell.start(this.options.seeds);
    const announce = () => {
      if (this.swim.liveCount() <= 1) transport.send(subject, encoder.encode(JSON.stringify({ node: nodeId })));
    };
    announce();
    this.announceTimer = setInterval(announce, this.options.announceIntervalMs ?? 1000);
    this.announceTimer.unref();
  }

  health(): ClusterHealth {
    const [self, ...others] = this.swim.view();
    const counted = others.filter((m) => m.state !== 'LEFT');
    const reachable = 1 + counted.filter((m) => m.state === 'ALIVE').length;
    const reachableFraction = reachable / (1 + counted.length);
    return { self: self!, nodes: [self!, ...others], partitioned: reachableFraction < this.threshold, reachableFraction };
  }

  membersByState(): Record<MemberState, number> {
    const counts: Record<MemberState, number> = { ALIVE: 0, SUSPECT: 0, DEAD: 0, LEFT: 0 };
    for (const member of this.swim.view()) counts[member.state]++;
    return counts;
  }

  /** Leaves gracefully (announcing LEFT) unless `leave` is false, then stops. */
  stop(leave = true): void {
    clearInterval(this.announceTimer);
    this.announceSubscription?.unsubscribe();
    if (leave) this.shell.leave();
    else this.shell.stop();
  }
}
