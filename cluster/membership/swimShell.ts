// Runs a Swim core over a Transport: decodes inbound messages into `onMessage`, carries
// out the directives (sends, member changes), and keeps one timer armed at the core's next
// deadline. The clock is injected, so the same shell runs on real time over NATS and on
// virtual time in the simulator.

import { nodeSubject, services } from '../transport/subjects.js';
import type { Subscription, Transport } from '../transport/transport.js';
import type { Directive, MemberState, SwimMessage } from './swim.js';
import { Swim } from './swim.js';

export interface ShellClock {
  nowMs(): number;
  /** Runs `work` at `atMs` (this node's time); returns a cancel function. */
  schedule(atMs: number, work: () => void): () => void;
}

export interface MembershipListener {
  memberChanged?(node: string, state: MemberState, incarnation: number, previous: MemberState | undefined): void;
  probeRtt?(target: string, rttMs: number): void;
  refuted?(incarnation: number): void;
  messageSent?(): void;
  messageReceived?(): void;
}

interface Envelope {
  from: string;
  message: SwimMessage;
}

const STATES = new Set(['ALIVE', 'SUSPECT', 'DEAD', 'LEFT']);

function isUpdate(value: unknown): boolean {
  const update = value as { node?: unknown; state?: unknown; incarnation?: unknown } | null;
  return typeof update === 'object' && update !== null && typeof update.node === 'string' && STATES.has(update.state as string) && Number.isSafeInteger(update.incarnation);
}

/** Checks the shape of a decoded message before the core sees it: peers are not trusted to be well formed. */
export function isEnvelope(value: unknown): value is Envelope {
  const envelope = value as { from?: unknown; message?: Record<string, unknown> } | null;
  if (typeof envelope !== 'object' || envelope === null || typeof envelope.from !== 'string') return false;
  const message = envelope.message;
  if (typeof message !== 'object' || message === null || message['v'] !== 1) return false;
  const updates = message['type'] === 'sync' ? message['members'] : message['updates'];
  switch (message['type']) {
    case 'ping':
    case 'ping-req':
      return Number.isSafeInteger(message['seq']) && typeof message['target'] === 'string' && Array.isArray(updates) && updates.every(isUpdate);
    case 'ack':
      return Number.isSafeInteger(message['seq']) && Array.isArray(updates) && updates.every(isUpdate);
    case 'nack':
      return Number.isSafeInteger(message['seq']);
    case 'sync':
      return typeof message['reply'] === 'boolean' && Array.isArray(updates) && updates.every(isUpdate);
    default:
      return false;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class SwimShell {
  private subscription: Subscription | undefined;
  private cancelTimer: (() => void) | undefined;
  private armedAtMs = Number.POSITIVE_INFINITY;
  private stopped = false;

  constructor(
    readonly swim: Swim,
    private readonly transport: Transport,
    private readonly cluster: string,
    private readonly clock: ShellClock,
    private readonly listener: MembershipListener = {},
  ) {}

  start(seeds: readonly string[]): void {
    this.subscription = this.transport.subscribe(nodeSubject(this.cluster, services.membership, this.swim.self), (inbound) => {
      if (this.stopped) return;
      let envelope: Envelope;
      try {
        envelope = JSON.parse(decoder.decode(inbound.data)) as Envelope;
      } catch {
        return; // Not ours to crash on: a malformed message is dropped.
      }
      if (!isEnvelope(envelope)) return;
      this.listener.messageReceived?.();
      this.execute(this.swim.onMessage(envelope.from, envelope.message, this.clock.nowMs()));
    });
    this.execute(this.swim.join(seeds));
  }

  /** Adds seeds found after start (DNS SRV refresh). */
  addSeeds(seeds: readonly string[]): void {
    if (!this.stopped) this.execute(this.swim.addSeeds(seeds));
  }

  /** Exchanges full state with `node` (a newcomer that announced itself). */
  syncWith(node: string): void {
    if (!this.stopped) this.execute(this.swim.syncWith(node));
  }

  /** Announces a graceful leave, then stops. */
  leave(): void {
    this.execute(this.swim.leave());
    this.stop();
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.subscription?.unsubscribe();
  }

  private execute(directives: Directive[]): void {
    for (const directive of directives) {
      switch (directive.type) {
        case 'send':
          try {
            this.transport.send(nodeSubject(this.cluster, services.membership, directive.to), encoder.encode(JSON.stringify({ from: this.swim.self, message: directive.message } satisfies Envelope)));
            this.listener.messageSent?.();
          } catch {
            // Best effort: a closed transport means we are stopping.
          }
          break;
        case 'memberChanged':
          this.listener.memberChanged?.(directive.node, directive.state, directive.incarnation, directive.previous);
          break;
        case 'probeRtt':
          this.listener.probeRtt?.(directive.target, directive.rttMs);
          break;
        case 'refuted':
          this.listener.refuted?.(directive.incarnation);
          break;
      }
    }
    this.arm();
  }

  /** Keeps one timer at the core's next deadline. */
  private arm(): void {
    if (this.stopped) return;
    const next = this.swim.nextDeadline();
    if (next >= this.armedAtMs && this.cancelTimer !== undefined) return;
    this.cancelTimer?.();
    this.armedAtMs = next;
    this.cancelTimer = this.clock.schedule(next, () => {
      this.cancelTimer = undefined;
      this.armedAtMs = Number.POSITIVE_INFINITY;
      if (!this.stopped) this.execute(this.swim.onTick(this.clock.nowMs()));
    });
  }
}
