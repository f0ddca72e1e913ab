// SWIM membership with the Lifeguard extensions, as a sans-I/O state machine. The shell
// feeds it messages (`onMessage`) and timer ticks (`onTick`) with the current time, and
// carries out the directives it returns; the core never touches a network, a clock or
// Math.random, so the same code runs over NATS and in the simulator, and a seed replays.
//
// Each probe interval a node pings the next member of a shuffled round-robin order. No
// ack within the probe timeout: it asks `indirectProbes` others to ping the target for it
// (ping-req); the helpers answer nack when the target stays silent. No ack by the end of
// the interval: the target becomes SUSPECT. The suspicion timeout starts long and shrinks
// as independent suspicions of the same member arrive (Lifeguard); when it runs out the
// member is DEAD. A member that hears it is suspected refutes with a higher incarnation.
// Updates ride on pings and acks, each retransmitted λ·log10(n+1) times, and a periodic
// push-pull sync with a random member repairs anything gossip missed. Local health
// (Lifeguard awareness) grows with missed acks, missing nacks and refutations, and
// stretches the node's own probe interval and timeout so a struggling node accuses less.

import { BroadcastQueue } from './broadcastQueue.js';
import type { MembershipConfig } from './membershipConfig.js';

export type MemberState = 'ALIVE' | 'SUSPECT' | 'DEAD' | 'LEFT';

export interface MemberUpdate {
  node: string;
  state: MemberState;
  incarnation: number;
  /** For SUSPECT: who suspects, so independent confirmations can be counted. */
  from?: string;
  /** Labels of the member (rack, zone), carried with ALIVE updates. */
  meta?: Readonly<Record<string, string>>;
}

/** Wire messages; `v` versions the format, and types are append-only. */
export type SwimMessage =
  | { v: 1; type: 'ping'; seq: number; target: string; updates: MemberUpdate[] }
  | { v: 1; type: 'ack'; seq: number; updates: MemberUpdate[] }
  | { v: 1; type: 'nack'; seq: number }
  | { v: 1; type: 'ping-req'; seq: number; target: string; updates: MemberUpdate[] }
  | { v: 1; type: 'sync'; members: MemberUpdate[]; reply: boolean };

export type Directive =
  | { type: 'send'; to: string; message: SwimMessage }
  | { type: 'memberChanged'; node: string; state: MemberState; incarnation: number; previous: MemberState | undefined }
  | { type: 'probeRtt'; target: string; rttMs: number }
  | { type: 'refuted'; incarnation: number };

export interface MemberView {
  node: string;
  state: MemberState;
  incarnation: number;
  meta: Readonly<Record<string, string>>;
}

interface Suspicion {
  startedAtMs: number;
  confirmations: Set<string>;
  minMs: number;
  maxMs: number;
}

interface Member {
  node: string;
  state: MemberState;
  incarnation: number;
  meta: Readonly<Record<string, string>>;
  changedAtMs: number;
  suspicion: Suspicion | undefined;
}

interface Probe {
  target: string;
  seq: number;
  sentAtMs: number;
  ackDeadlineMs: number;
  roundEndMs: number;
  /** Whether the ping-req phase has started, and how many helpers were asked. */
  indirectSent: boolean;
  helpers: number;
  nacks: number;
}

interface Relay {
  requester: string;
  requesterSeq: number;
  deadlineMs: number;
}

export interface SwimOptions {
  self: string;
  config: MembershipConfig;
  /** Uniform in [0, 1); injected so runs are reproducible. */
  random: () => number;
  nowMs: number;
  meta?: Readonly<Record<string, string>>;
}

export class Swim {
  readonly self: string;
  private incarnation = 0;
  private viewChanges = 0;
  private selfState: MemberState = 'ALIVE';
  private readonly meta: Readonly<Record<string, string>>;
  private readonly config: MembershipConfig;
  private readonly random: () => number;
  private readonly members = new Map<string, Member>();
  private readonly broadcasts = new BroadcastQueue();
  private probeOrder: string[] = [];
  private probeIndex = 0;
  private probe: Probe | undefined;
  private readonly relays = new Map<number, Relay>();
  private nextSeq = 1;
  private syncWithDead = false;
  /** Nodes to (re)join through while this node knows no live member. */
  private seeds: string[] = [];
  private nextProbeAtMs: number;
  private nextSyncAtMs: number;
  /** Lifeguard local health: 0 is healthy. */
  awareness = 0;

  constructor(options: SwimOptions) {
    this.self = options.self;
    this.config = options.config;
    this.random = options.random;
    this.meta = options.meta ?? {};
    // Spread the first probe and sync over an interval so nodes started together do not beat in step.
    this.nextProbeAtMs = options.nowMs + this.random() * this.config.probeIntervalMs;
    this.nextSyncAtMs = options.nowMs + this.config.pushPullIntervalMs * (0.5 + this.random());
  }

  // ---- views ----------------------------------------------------------------------------

  get selfIncarnation(): number {
    return this.incarnation;
  }

  /** Every known member, this node first. */
  /** Grows whenever a member joins, changes state or is forgotten: a cheap test for "has the view changed". */
  get viewVersion(): number {
    return this.viewChanges;
  }

  view(): MemberView[] {
    const others = [...this.members.values()].sort((a, b) => (a.node < b.node ? -1 : 1)).map((m) => ({ node: m.node, state: m.state, incarnation: m.incarnation, meta: m.meta }));
    return [{ node: this.self, state: this.selfState, incarnation: this.incarnation, meta: this.meta }, ...others];
  }

  stateOf(node: string): MemberState | undefined {
    return node === this.self ? this.selfState : this.members.get(node)?.state;
  }

  /** Members this node counts as part of the cluster (alive or suspect), itself included. */
  liveCount(): number {
    let count = this.selfState === 'ALIVE' ? 1 : 0;
    for (const member of this.members.values()) if (member.state === 'ALIVE' || member.state === 'SUSPECT') count++;
    return count;
  }

  /** The earliest time at which `onTick` has something to do. */
  nextDeadline(): number {
    let next = Math.min(this.nextProbeAtMs, this.nextSyncAtMs);
    if (this.probe !== undefined) next = Math.min(next, this.probe.indirectSent ? this.probe.roundEndMs : this.probe.ackDeadlineMs);
    for (const relay of this.relays.values()) next = Math.min(next, relay.deadlineMs);
    for (const member of this.members.values()) if (member.suspicion !== undefined) next = Math.min(next, this.suspicionDeadline(member.suspicion));
    return next;
  }

  // ---- joining and leaving ------------------------------------------------------------

  /**
   * Starts a full state exchange with each seed node. While no other live member is known
   * (the exchange was lost, or every member was declared dead), it is retried every probe
   * interval, so a node joins despite loss and rejoins after being cut off.
   */
  join(seeds: readonly string[]): Directive[] {
    this.seeds = seeds.filter((seed) => seed !== this.self);
    return this.seeds.map((seed) => ({ type: 'send', to: seed, message: this.syncMessage(true) }));
  }

  /** Adds seeds (e.g. freshly resolved from DNS) and starts a state exchange with the new ones. */
  addSeeds(seeds: readonly string[]): Directive[] {
    const fresh = seeds.filter((seed) => seed !== this.self && !this.seeds.includes(seed));
    this.seeds.push(...fresh);
    return fresh.filter((seed) => !this.members.has(seed)).flatMap((seed) => this.syncWith(seed));
  }

  /** A full state exchange with one node, e.g. one that just announced itself. */
  syncWith(node: string): Directive[] {
    return node === this.self || this.selfState === 'LEFT' ? [] : [{ type: 'send', to: node, message: this.syncMessage(true) }];
  }

  /** Graceful leave: announces LEFT with a higher incarnation to a few members directly and by gossip. */
  leave(): Directive[] {
    this.incarnation++;
    this.selfState = 'LEFT';
    this.viewChanges++;
    this.broadcasts.enqueue({ node: this.self, state: 'LEFT', incarnation: this.incarnation });
    const targets = this.randomMembers(this.config.indirectProbes, (m) => m.state === 'ALIVE' || m.state === 'SUSPECT');
    return targets.map((to) => ({ type: 'send', to, message: this.syncMessage(false) }));
  }

  // ---- ticks ----------------------------------------------------------------------------

  onTick(nowMs: number): Directive[] {
    const out: Directive[] = [];
    if (this.selfState === 'LEFT') return out;
    this.expireSuspicions(nowMs, out);
    this.advanceProbe(nowMs, out);
    this.expireRelays(nowMs, out);
    if (nowMs >= this.nextSyncAtMs) {
      this.nextSyncAtMs = nowMs + this.config.pushPullIntervalMs;
      // Every other exchange goes to a member believed dead: if a partition has healed it
      // answers, learns it was declared dead, refutes, and the two sides merge again.
      this.syncWithDead = !this.syncWithDead;
      const [dead] = this.syncWithDead ? this.randomMembers(1, (m) => m.state === 'DEAD') : [];
      const [partner] = dead !== undefined ? [dead] : this.randomMembers(1, (m) => m.state === 'ALIVE');
      if (partner !== undefined) out.push({ type: 'send', to: partner, message: this.syncMessage(true) });
    }
    this.reapDead(nowMs);
    return out;
  }

  private scaled(ms: number): number {
    return ms * (1 + this.awareness);
  }

  private adjustAwareness(delta: number): void {
    this.awareness = Math.max(0, Math.min(this.config.awarenessMax, this.awareness + delta));
  }

  private advanceProbe(nowMs: number, out: Directive[]): void {
    const probe = this.probe;
    if (probe !== undefined) {
      if (!probe.indirectSent && nowMs >= probe.ackDeadlineMs) {
        const helpers = this.randomMembers(this.config.indirectProbes, (m) => m.state === 'ALIVE' && m.node !== probe.target);
        probe.indirectSent = true;
        probe.helpers = helpers.length;
        for (const helper of helpers) {
          out.push({ type: 'send', to: helper, message: { v: 1, type: 'ping-req', seq: probe.seq, target: probe.target, updates: this.piggyback() } });
        }
      }
      if (nowMs < probe.roundEndMs) return;
      // No ack in the whole round: suspect the target. Missing nacks mean our own link or
      // process is the likelier problem (Lifeguard), so slow down.
      this.probe = undefined;
      this.adjustAwareness(probe.helpers > 0 && probe.nacks < probe.helpers ? 1 : 0);
      const member = this.members.get(probe.target);
      if (member !== undefined && member.state === 'ALIVE') {
        this.applyUpdate({ node: member.node, state: 'SUSPECT', incarnation: member.incarnation, from: this.self }, nowMs, out);
        // Tell the suspect directly, so it can refute before the gossip reaches it.
        out.push({ type: 'send', to: member.node, message: { v: 1, type: 'ping', seq: this.nextSeq++, target: member.node, updates: this.piggyback() } });
      }
    }
    if (nowMs < this.nextProbeAtMs) return;
    this.nextProbeAtMs = nowMs + this.scaled(this.config.probeIntervalMs);
    const target = this.nextProbeTarget();
    if (target === undefined) {
      for (const seed of this.seeds) out.push({ type: 'send', to: seed, message: this.syncMessage(true) });
      return;
    }
    const seq = this.nextSeq++;
    this.probe = {
      target,
      seq,
      sentAtMs: nowMs,
      ackDeadlineMs: nowMs + this.scaled(this.config.probeTimeoutMs),
      roundEndMs: nowMs + this.scaled(this.config.probeIntervalMs) * 0.9,
      indirectSent: false,
      helpers: 0,
      nacks: 0,
    };
    out.push({ type: 'send', to: target, message: { v: 1, type: 'ping', seq, target, updates: this.piggyback() } });
  }

  /** Round-robin over a shuffled order of probeable members, reshuffled each pass (SWIM). */
  private nextProbeTarget(): string | undefined {
    for (let attempts = 0; attempts < 2; attempts++) {
      while (this.probeIndex < this.probeOrder.length) {
        const node = this.probeOrder[this.probeIndex++]!;
        const member = this.members.get(node);
        if (member !== undefined && (member.state === 'ALIVE' || member.state === 'SUSPECT')) return node;
      }
      this.probeOrder = this.shuffle([...this.members.values()].filter((m) => m.state === 'ALIVE' || m.state === 'SUSPECT').map((m) => m.node));
      this.probeIndex = 0;
    }
    return undefined;
  }

  private expireRelays(nowMs: number, out: Directive[]): void {
    for (const [seq, relay] of this.relays) {
      if (nowMs < relay.deadlineMs) continue;
      this.relays.delete(seq);
      out.push({ type: 'send', to: relay.requester, message: { v: 1, type: 'nack', seq: relay.requesterSeq } });
    }
  }

  private suspicionDeadline(suspicion: Suspicion): number {
    // Lifeguard: the timeout falls from max toward min as independent confirmations arrive.
    const k = this.config.suspicionConfirmations;
    const confirmations = Math.min(Math.max(suspicion.confirmations.size - 1, 0), k);
    const fraction = Math.log(confirmations + 1) / Math.log(k + 1);
    return suspicion.startedAtMs + Math.max(suspicion.minMs, suspicion.maxMs - (suspicion.maxMs - suspicion.minMs) * fraction);
  }

  private expireSuspicions(nowMs: number, out: Directive[]): void {
    for (const member of [...this.members.values()]) {
      if (member.suspicion === undefined || nowMs < this.suspicionDeadline(member.suspicion)) continue;
      this.applyUpdate({ node: member.node, state: 'DEAD', incarnation: member.incarnation }, nowMs, out);
    }
  }

  private reapDead(nowMs: number): void {
    for (const [node, member] of this.members) {
      if ((member.state === 'DEAD' || member.state === 'LEFT') && nowMs - member.changedAtMs > this.config.deadMemberRetentionMs) {
        this.members.delete(node);
        this.viewChanges++;
      }
    }
  }

  // ---- messages -------------------------------------------------------------------------

  onMessage(from: string, message: SwimMessage, nowMs: number): Directive[] {
    const out: Directive[] = [];
    if (this.selfState === 'LEFT' || message.v !== 1) return out;
    if (message.type !== 'nack') {
      for (const update of message.type === 'sync' ? message.members : message.updates) this.applyUpdate(update, nowMs, out);
    }
    switch (message.type) {
      case 'ping':
        if (message.target === this.self) out.push({ type: 'send', to: from, message: { v: 1, type: 'ack', seq: message.seq, updates: this.piggyback() } });
        break;
      case 'ack':
        this.onAck(message.seq, nowMs, out);
        break;
      case 'nack':
        if (this.probe?.seq === message.seq) this.probe.nacks++;
        break;
      case 'ping-req': {
        const seq = this.nextSeq++;
        this.relays.set(seq, { requester: from, requesterSeq: message.seq, deadlineMs: nowMs + this.config.probeTimeoutMs });
        out.push({ type: 'send', to: message.target, message: { v: 1, type: 'ping', seq, target: message.target, updates: this.piggyback() } });
        break;
      }
      case 'sync':
        if (message.reply) out.push({ type: 'send', to: from, message: this.syncMessage(false) });
        break;
    }
    return out;
  }

  private onAck(seq: number, nowMs: number, out: Directive[]): void {
    const probe = this.probe;
    if (probe !== undefined && probe.seq === seq) {
      this.probe = undefined;
      this.adjustAwareness(-1);
      out.push({ type: 'probeRtt', target: probe.target, rttMs: nowMs - probe.sentAtMs });
      return;
    }
    const relay = this.relays.get(seq);
    if (relay !== undefined) {
      this.relays.delete(seq);
      out.push({ type: 'send', to: relay.requester, message: { v: 1, type: 'ack', seq: relay.requesterSeq, updates: this.piggyback() } });
    }
  }

  // ---- state merging --------------------------------------------------------------------

  private applyUpdate(update: MemberUpdate, nowMs: number, out: Directive[]): void {
    if (update.node === this.self) {
      this.onUpdateAboutSelf(update, out);
      return;
    }
    const member = this.members.get(update.node);
    if (member === undefined) {
      // Never resurrect a forgotten member from a stale DEAD or LEFT rumour.
      if (update.state === 'DEAD' || update.state === 'LEFT') return;
      this.setState({ node: update.node, state: 'ALIVE', incarnation: update.incarnation, meta: update.meta ?? {}, changedAtMs: nowMs, suspicion: undefined }, update, nowMs, out, true);
      return;
    }
    switch (update.state) {
      case 'ALIVE':
        if (update.incarnation > member.incarnation) this.setState(member, update, nowMs, out);
        break;
      case 'SUSPECT':
        if (update.incarnation > member.incarnation || (update.incarnation === member.incarnation && member.state === 'ALIVE')) {
          this.setState(member, update, nowMs, out);
        } else if (update.incarnation === member.incarnation && member.state === 'SUSPECT' && member.suspicion !== undefined && update.from !== undefined) {
          // An independent confirmation shortens the suspicion; pass it on.
          if (!member.suspicion.confirmations.has(update.from)) {
            member.suspicion.confirmations.add(update.from);
            this.broadcasts.enqueue({ node: member.node, state: 'SUSPECT', incarnation: member.incarnation, from: update.from });
          }
        }
        break;
      case 'DEAD':
      case 'LEFT':
        if (update.incarnation > member.incarnation || (update.incarnation === member.incarnation && member.state !== 'DEAD' && member.state !== 'LEFT')) {
          this.setState(member, update, nowMs, out);
        }
        break;
    }
  }

  private setState(member: Member, update: MemberUpdate, nowMs: number, out: Directive[], added = false): void {
    const previous = added ? undefined : member.state;
    const state = update.state;
    if (previous !== state) this.viewChanges++;
    member.state = state;
    member.incarnation = update.incarnation;
    if (update.meta !== undefined) member.meta = update.meta;
    member.changedAtMs = nowMs;
    member.suspicion = state === 'SUSPECT' ? this.newSuspicion(nowMs, update.from) : undefined;
    if (added) {
      this.members.set(member.node, member);
      // New members join the probe order at a random position, so everyone probes them soon.
      this.probeOrder.splice(this.probeIndex + Math.floor(this.random() * (this.probeOrder.length - this.probeIndex + 1)), 0, member.node);
    }
    this.broadcasts.enqueue({ node: member.node, state, incarnation: member.incarnation, ...(update.from === undefined ? {} : { from: update.from }), ...(state === 'ALIVE' ? { meta: member.meta } : {}) });
    if (previous !== state) out.push({ type: 'memberChanged', node: member.node, state, incarnation: member.incarnation, previous });
  }

  private newSuspicion(nowMs: number, from: string | undefined): Suspicion {
    const n = Math.max(this.liveCount(), 1);
    const minMs = this.config.suspicionMultiplier * Math.max(1, Math.log10(Math.max(n, 10))) * this.config.probeIntervalMs;
    return { startedAtMs: nowMs, confirmations: new Set(from === undefined ? [] : [from]), minMs, maxMs: minMs * this.config.suspicionMaxMultiplier };
  }

  private onUpdateAboutSelf(update: MemberUpdate, out: Directive[]): void {
    if (this.selfState === 'LEFT') return;
    // LEFT too: a node that left and came back (a drain, a rolling restart) rejoins this way.
    if (update.state !== 'ALIVE' && update.incarnation >= this.incarnation) {
      // Refute: a higher incarnation overrides every older rumour about us.
      this.incarnation = update.incarnation + 1;
      // Being suspected says something about this node's health; an old LEFT does not.
      if (update.state !== 'LEFT') this.adjustAwareness(1);
      this.broadcasts.enqueue({ node: this.self, state: 'ALIVE', incarnation: this.incarnation, meta: this.meta });
      out.push({ type: 'refuted', incarnation: this.incarnation });
    }
  }

  // ---- helpers --------------------------------------------------------------------------

  private piggyback() {
    return this.broadcasts.take(this.config.maxPiggybackUpdates, this.config.retransmitMultiplier * Math.ceil(Math.log10(this.liveCount() + 1)));
  }

  private syncMessage(reply: boolean): SwimMessage {
    const members: MemberUpdate[] = [{ node: this.self, state: this.selfState, incarnation: this.incarnation, meta: this.meta }];
    for (const member of this.members.values()) members.push({ node: member.node, state: member.state, incarnation: member.incarnation, meta: member.meta });
    return { v: 1, type: 'sync', members, reply };
  }

  private randomMembers(count: number, accept: (member: Member) => boolean): string[] {
    return this.shuffle([...this.members.values()].filter(accept).map((m) => m.node)).slice(0, count);
  }

  private shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}
