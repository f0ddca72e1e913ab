// What placement and membership say about each shard, for the replication core. Three
// member sets matter: the live members (where a primary ships and who leads now), the known
// members, dead ones included (what write concerns count against, so an isolated node never
// counts itself a majority), and the placement before the last change (where the data was).
// Known members leave only by announcing LEFT, and are kept durably by the shell.

import { Placement, type PlacementMember } from '../placement/placement.js';
import type { ShardView } from './shardCore.js';

/** Shard views kept per member set. Default 100,000: every shard of a large node, a few tens of MB. */
const MAX_CACHED_VIEWS = 100_000;

export class ClusterView {
  readonly live: Placement;
  private readonly views = new Map<string, ShardView>();
  private readonly known: Placement;
  private readonly knownWithoutSelf: Placement | null;

  constructor(
    private readonly self: string,
    liveMembers: readonly PlacementMember[],
    knownMembers: readonly PlacementMember[],
    private readonly replicationFactor: number,
    private readonly before: Placement | null,
    private readonly settled: boolean,
  ) {
    this.live = new Placement(liveMembers.length === 0 ? [{ id: self }] : liveMembers, replicationFactor);
    const known = knownMembers.some((m) => m.id === self) ? knownMembers : [...knownMembers, { id: self }];
    this.known = new Placement(known, replicationFactor);
    const others = known.filter((m) => m.id !== self);
    this.knownWithoutSelf = others.length === 0 ? null : new Placement(others, replicationFactor);
  }

  /** min(replication factor, known members). */
  get configuredCopies(): number {
    return Math.min(this.replicationFactor, this.known.size);
  }

  shard(space: string, shard: number): ShardView {
    const key = `${space}/${shard}`;
    let view = this.views.get(key);
    if (view === undefined) {
      view = this.compute(space, shard);
      // One view per shard for the life of this member set; placements are pure functions of it.
      if (this.views.size < MAX_CACHED_VIEWS) this.views.set(key, view);
    }
    return view;
  }

  private compute(space: string, shard: number): ShardView {
    const live = this.live.assign(space, shard);
    const copies = (placement: Placement | null) => {
      if (placement === null) return [];
      const a = placement.assign(space, shard);
      return [a.primary, ...a.replicas];
    };
    const configured = copies(this.known);
    const claimSet = [...new Set([...configured, ...copies(this.knownWithoutSelf)])];
    const holders = [...new Set([...claimSet, ...copies(this.before), live.primary, ...live.replicas])].filter((node) => node !== this.self);
    return { primary: live.primary, replicas: live.replicas, holders, claimSet, configured, configuredCopies: configured.length, settled: this.settled };
  }
}
