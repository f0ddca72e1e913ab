// The deterministic network simulator. Nodes talk through SimTransports over simulated
// links with latency, jitter, loss and duplication, under injected faults: clean and
// asymmetric partitions, flapping links, isolation, crash and restart, pause, and clock
// skew. Time is virtual and every random choice comes from one seed, so a run is a pure
// function of its seed and its inputs: the same seed yields the same event trace, and a
// failing seed replays exactly. Every delivery, drop and fault is folded into a trace
// hash (and optionally kept as text) so two runs can be compared.

import { createHash, type Hash } from 'node:crypto';
import type { MessageHeaders } from '../transport/transport.js';
import { EventQueue } from './eventQueue.js';
import { SeededRandom } from './random.js';
import { SimTransport } from './simTransport.js';

export interface LinkProfile {
  /** Mean one-way delay. Default 10 ms (Engram's simulator default). */
  latencyMs: number;
  /** Uniform spread around the latency, ± this much. Default 5 ms (Engram). */
  jitterMs: number;
  /** Probability a message is lost. Default 0. */
  loss: number;
  /** Probability a delivered message is delivered a second time. Default 0. */
  duplicate: number;
}

export const defaultLinkProfile: LinkProfile = { latencyMs: 10, jitterMs: 5, loss: 0, duplicate: 0 };

export interface SimNetworkOptions {
  seed: number;
  link?: Partial<LinkProfile>;
  /** Keep the trace as text lines as well as the hash (for debugging a seed). Default false. */
  keepTrace?: boolean;
}

/** A message in flight, as the simulator routes it. */
export interface SimEnvelope {
  from: string;
  subject: string;
  data: Uint8Array;
  headers: MessageHeaders;
  replyTo: string | undefined;
}

interface NodeState {
  /** Bumped by crash: deliveries and timers of an earlier life are dropped. */
  life: number;
  crashed: boolean;
  paused: boolean;
  /** Work that arrived while paused, run in order on resume. */
  deferred: (() => void)[];
  skewMs: number;
  transport: SimTransport | undefined;
}

export class SimNetwork {
  private readonly queue = new EventQueue();
  private readonly random: SeededRandom;
  private readonly nodes = new Map<string, NodeState>();
  /** subject -> node -> transport subscribed to it */
  private readonly subscribers = new Map<string, Set<string>>();
  private readonly links = new Map<string, Partial<LinkProfile>>();
  private readonly blocked = new Set<string>();
  private defaultLink: LinkProfile;
  private readonly hash: Hash = createHash('sha256');
  readonly trace: string[] | undefined;
  private clockMs = 0;
  /** Counters for assertions and reports. */
  readonly stats = { sent: 0, delivered: 0, lost: 0, blocked: 0, duplicated: 0, droppedDead: 0 };

  constructor(options: SimNetworkOptions) {
    this.random = new SeededRandom(options.seed);
    this.defaultLink = { ...defaultLinkProfile, ...options.link };
    this.trace = options.keepTrace ? [] : undefined;
  }

  /** Global virtual time. */
  get nowMs(): number {
    return this.clockMs;
  }

  /** Virtual time as `node` reads it (global time plus its clock skew). */
  nodeNow(node: string): number {
    return this.clockMs + (this.nodes.get(node)?.skewMs ?? 0);
  }

  /** A stream of randomness for `label`, derived from the run's seed. */
  randomFor(label: string): SeededRandom {
    return this.random.fork(label);
  }

  /** The transport of `node`, creating the node (or its next life after a crash) on first use. */
  transport(node: string): SimTransport {
    const state = this.state(node);
    if (state.crashed) throw new Error(`node ${node} is crashed; restart it first`);
    state.transport ??= new SimTransport(this, node);
    return state.transport;
  }

  private state(node: string): NodeState {
    let state = this.nodes.get(node);
    if (state === undefined) {
      state = { life: 0, crashed: false, paused: false, deferred: [], skewMs: 0, transport: undefined };
      this.nodes.set(node, state);
    }
    return state;
  }

  private record(line: string): void {
    this.hash.update(line);
    this.hash.update('\n');
    this.trace?.push(line);
  }

  /** Digest of every event so far; equal for two runs of the same seed and inputs. */
  traceHash(): string {
    return this.hash.copy().digest('hex');
  }

  // ---- links and faults ---------------------------------------------------------------

  setDefaultLink(profile: Partial<LinkProfile>): void {
    this.defaultLink = { ...this.defaultLink, ...profile };
    this.record(`${this.clockMs} link * ${JSON.stringify(profile)}`);
  }

  /** Overrides the link from `from` to `to` (one direction). */
  setLink(from: string, to: string, profile: Partial<LinkProfile>): void {
    this.links.set(`${from}>${to}`, { ...this.links.get(`${from}>${to}`), ...profile });
    this.record(`${this.clockMs} link ${from}>${to} ${JSON.stringify(profile)}`);
  }

  private linkOf(from: string, to: string): LinkProfile {
    return { ...this.defaultLink, ...this.links.get(`${from}>${to}`) };
  }

  /** Blocks messages from `from` to `to` only: an asymmetric partition. */
  blockOneWay(from: string, to: string): void {
    this.blocked.add(`${from}>${to}`);
    this.record(`${this.clockMs} block ${from}>${to}`);
  }

  unblockOneWay(from: string, to: string): void {
    this.blocked.delete(`${from}>${to}`);
    this.record(`${this.clockMs} unblock ${from}>${to}`);
  }

  /** A clean split: nodes in different groups cannot reach each other in either direction. */
  partition(groups: readonly (readonly string[])[]): void {
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < groups.length; j++) {
        if (i === j) continue;
        for (const a of groups[i]!) for (const b of groups[j]!) this.blocked.add(`${a}>${b}`);
      }
    }
    this.record(`${this.clockMs} partition ${groups.map((g) => g.join(',')).join(' | ')}`);
  }

  /** Cuts `node` off from every other node, both ways. */
  isolate(node: string): void {
    for (const other of this.nodes.keys()) {
      if (other === node) continue;
      this.blocked.add(`${node}>${other}`);
      this.blocked.add(`${other}>${node}`);
    }
    this.record(`${this.clockMs} isolate ${node}`);
  }

  /** Removes every block: all partitions, isolations and one-way blocks end. */
  heal(): void {
    this.blocked.clear();
    this.record(`${this.clockMs} heal`);
  }

  /** The link between a and b goes down and up every `periodMs`, `cycles` times. */
  flap(a: string, b: string, periodMs: number, cycles: number): void {
    for (let cycle = 0; cycle < cycles; cycle++) {
      const downAt = this.clockMs + cycle * 2 * periodMs;
      this.queue.push(downAt, () => {
        this.blockOneWay(a, b);
        this.blockOneWay(b, a);
      });
      this.queue.push(downAt + periodMs, () => {
        this.unblockOneWay(a, b);
        this.unblockOneWay(b, a);
      });
    }
  }

  isReachable(from: string, to: string): boolean {
    return !this.blocked.has(`${from}>${to}`);
  }

  /** The node stops: its subscriptions, timers and in-flight deliveries are gone. */
  crash(node: string): void {
    const state = this.state(node);
    state.crashed = true;
    state.life++;
    state.deferred = [];
    state.paused = false;
    state.transport?.detach();
    state.transport = undefined;
    for (const nodes of this.subscribers.values()) nodes.delete(node);
    this.record(`${this.clockMs} crash ${node}`);
  }

  /** The node may start again; its shell gets a fresh transport from `transport(node)`. */
  restart(node: string): void {
    this.state(node).crashed = false;
    this.record(`${this.clockMs} restart ${node}`);
  }

  /** The node freezes (like SIGSTOP): deliveries and timers wait until `resume`. */
  pause(node: string): void {
    this.state(node).paused = true;
    this.record(`${this.clockMs} pause ${node}`);
  }

  resume(node: string): void {
    const state = this.state(node);
    state.paused = false;
    this.record(`${this.clockMs} resume ${node}`);
    const deferred = state.deferred;
    state.deferred = [];
    for (const work of deferred) this.queue.push(this.clockMs, work);
  }

  isCrashed(node: string): boolean {
    return this.nodes.get(node)?.crashed ?? false;
  }

  /** Shifts the node's clock by `offsetMs` from global time. */
  skew(node: string, offsetMs: number): void {
    this.state(node).skewMs = offsetMs;
    this.record(`${this.clockMs} skew ${node} ${offsetMs}`);
  }

  // ---- used by SimTransport -----------------------------------------------------------

  /** @internal */
  subscribeNode(subject: string, node: string): void {
    let nodes = this.subscribers.get(subject);
    if (nodes === undefined) {
      nodes = new Set();
      this.subscribers.set(subject, nodes);
    }
    nodes.add(node);
  }

  /** @internal */
  unsubscribeNode(subject: string, node: string): void {
    this.subscribers.get(subject)?.delete(node);
  }

  /** @internal Routes one message to every node subscribed to its subject. */
  route(envelope: SimEnvelope): void {
    this.stats.sent++;
    const targets = [...(this.subscribers.get(envelope.subject) ?? [])].sort();
    for (const to of targets) this.deliverTo(to, envelope);
  }

  private deliverTo(to: string, envelope: SimEnvelope): void {
    const label = `${envelope.from}>${to} ${envelope.subject}`;
    if (to !== envelope.from && !this.isReachable(envelope.from, to)) {
      this.stats.blocked++;
      this.record(`${this.clockMs} blocked ${label}`);
      return;
    }
    const link = to === envelope.from ? { ...this.defaultLink, latencyMs: 0, jitterMs: 0, loss: 0, duplicate: 0 } : this.linkOf(envelope.from, to);
    if (this.random.chance(link.loss)) {
      this.stats.lost++;
      this.record(`${this.clockMs} lost ${label}`);
      return;
    }
    const copies = this.random.chance(link.duplicate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let copy = 0; copy < copies; copy++) {
      const delayMs = Math.max(0, link.latencyMs + (link.jitterMs > 0 ? this.random.between(-link.jitterMs, link.jitterMs) : 0));
      const atMs = this.clockMs + delayMs;
      this.runOnNode(to, atMs, () => {
        const transport = this.nodes.get(to)?.transport;
        if (transport === undefined) return;
        this.stats.delivered++;
        this.record(`${this.clockMs} deliver ${label}`);
        transport.deliver(envelope);
      });
    }
  }

  /**
   * Runs `work` on `node` at global time `atMs`, unless the node has crashed since; a
   * paused node runs it on resume.
   */
  runOnNode(node: string, atMs: number, work: () => void): void {
    const life = this.state(node).life;
    this.queue.push(atMs, () => {
      const state = this.nodes.get(node);
      if (state === undefined || state.life !== life || state.crashed) {
        this.stats.droppedDead++;
        return;
      }
      if (state.paused) {
        state.deferred.push(() => {
          if (state.life === life && !state.crashed) work();
        });
        return;
      }
      work();
    });
  }

  /** Schedules `work` at global time `atMs`, outside any node (for test drivers and fault scripts). */
  at(atMs: number, work: () => void): void {
    this.queue.push(Math.max(atMs, this.clockMs), work);
  }

  // ---- running ------------------------------------------------------------------------

  /**
   * Runs events in time order up to and including `untilMs`, then sets the clock there.
   * Between distinct instants it lets pending promise continuations run, so shells that
   * await `request` progress deterministically.
   */
  async runUntil(untilMs: number): Promise<void> {
    for (;;) {
      const next = this.queue.peekTime();
      if (next === undefined || next > untilMs) break;
      this.clockMs = next;
      while (this.queue.peekTime() === next) this.queue.pop()!.run();
      await settle();
    }
    this.clockMs = Math.max(this.clockMs, untilMs);
  }

  runFor(durationMs: number): Promise<void> {
    return this.runUntil(this.clockMs + durationMs);
  }
}

/** Lets queued microtasks (promise continuations) run before the next instant. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
