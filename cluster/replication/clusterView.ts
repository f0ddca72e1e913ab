// What placement and membership say about each shard, for the replication core. Three
// member sets matter: the live members (where a primary ships and who leads now), the known
// members, dead ones included (what write concerns count against, so an isolated node never
// counts itself a majority), and the placement before the last change (where the data was).
// Known members leave only by announcing LEFT, and are kept durably by the shell.

import { Placement, type PlacementMember } from '../placement/placement.js';
import type { ShardView } from './shardCore.js';

/** Shard views kept per member set. Default 100,000: every shard of a large node, a few tens of MB. */
const MAX_CACHED_VIEWS = 100_000;

/**
 * Placements over the known members, which change far less often than the live ones: their
 * per-shard copies are computed once per known set and shared by every view built on it.
 */
export class KnownPlacements {
  private readonly known: Placement;
  private readonly withoutSelf: Placement | null;
  private readonly copies = new Map<string, { configured: string[]; claimSet: string[] }>();

  constructor(self: string, knownMembers: readonly PlacementMember[], replicationFactor: number) {
    const known = knownMembers.some((m) => m.id === self) ? knownMembers : [...knownMembers, { id: self }];
    this.known = new Placement(known, replicationFactor);
    const others = known.filter((m) => m.id !== self);
    this.withoutSelf = others.length === 0 ? null : new Placement(others, replicationFactor);
  }

  get size(): number {
    return this.known.size;
  }

  /** The shard's configured copies, and every copy it could be on (with and without this node). */
  of(space: string, shard: number): { configured: string[]; claimSet: string[] } {
    const key = `${space}/${shard}`;
    let found = this.copies.get(key);
    if (found === undefined) {
      const configured = copiesOf(this.known, space, shard);
      found = { configured, claimSet: [...new Set([...configured, ...copiesOf(this.withoutSelf, space, shard)])] };
      if (this.copies.size < MAX_CACHED_VIEWS) this.copies.set(key, found);
    }
    return found;
  }
}

function copiesOf(placement: Placement | null, space: string, shard: number): string[] {
  if (placement === null) return [];
  const assigned = placement.assign(space, shard);
  return [assigned.primary, ...assigned.replicas];
}

export class ClusterView {
  private readonly views = new Map<string, ShardView>();

  constructor(
    private readonly self: string,
    readonly live: Placement,
    private readonly known: KnownPlacements,
    private readonly replicationFactor: number,
    private readonly before: Placement | null,
    private readonly settled: boolean,
  ) {}

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
    const { configured, claimSet } = this.known.of(space, shard);
    const holders = [...new Set([...claimSet, ...copiesOf(this.before, space, shard), live.primary, ...live.replicas])].filter((node) => node !== this.self);
    return { primary: live.primary, replicas: live.replicas, holders, claimSet, configured, configuredCopies: configured.length, settled: this.settled };
  }
}

/** The live placement of a member set (a node that sees nobody places everything on itself). */
export function livePlacement(self: string, liveMembers: readonly PlacementMember[], replicationFactor: number): Placement {
  return new Placement(liveMembers.length === 0 ? [{ id: self }] : liveMembers, replicationFactor);
}
