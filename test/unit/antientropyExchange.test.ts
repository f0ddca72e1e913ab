// The anti-entropy exchange (cluster/antientropy/exchangeCore.ts), driven through an
// in-memory harness: two or three copies of one shard as maps id -> {digest, clock, value},
// each with its HashTree, one ExchangeCore per node, and every directive run synchronously
// in order (requests delivered to the peer's core, reads answered from the copy, merges,
// replacements and restatements applied to the primary and shipped through a simulated
// log). Every request and reply body is checked against the payload budget on its way.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { antiEntropyPresets, validateAntiEntropySettings, type AntiEntropySettings } from '../../cluster/antientropy/antiEntropySettings.js';
import type { Directive, ExchangeEvent, HeldShard, RoundCounts } from '../../cluster/antientropy/directives.js';
import { ExchangeCore } from '../../cluster/antientropy/exchangeCore.js';
import { CORRUPT_DIGEST, HashTree, leafOf, type LeafEntry } from '../../cluster/antientropy/hashTree.js';
import { WHOLE_LEAF_ENTRIES } from '../../cluster/antientropy/exchangeRound.js';
import { ALL_SUB_BUCKETS, ANTI_ENTROPY_VERSION, antiEntropyOperations, FULL_DIGEST_CHARS, jsonBytes, subBucketOf, WIRE_DIGEST_CHARS, type CopyItem, type LeavesRequest } from '../../cluster/antientropy/messages.js';
import type { Epoch } from '../../cluster/replication/epoch.js';
import { compare, merge as mergeClocks } from '../../src/engine/vectorClock.js';

const SPACE = 'notes';
const SHARD = 3;
const EPOCH: Epoch = [2, 'a'];
/** ~1 KB a record, the size the figures assume. */
const VALUE = 'v'.repeat(1000);

type Clock = Record<string, number>;
interface Stored {
  digest: string;
  clock: Clock;
  value: string;
}

function digestOf(id: string, clock: Clock, value: string): string {
  return createHash('sha256').update(JSON.stringify([id, clock, value])).digest('hex');
}

function stored(id: string, clock: Clock, value = VALUE): Stored {
  return { digest: digestOf(id, clock, value), clock, value };
}

/** One node's copy of the shard, with the digest index bucketed by leaf and its tree. */
class Copy {
  readonly records = new Map<string, Stored>();
  private readonly byLeaf = new Map<number, Set<string>>();
  readonly tree = HashTree.empty();

  put(id: string, record: Stored): void {
    this.records.set(id, record);
    const leaf = leafOf(id);
    let ids = this.byLeaf.get(leaf);
    if (ids === undefined) this.byLeaf.set(leaf, (ids = new Set()));
    ids.add(id);
    this.tree.markDirty(leaf);
  }

  remove(id: string): void {
    if (!this.records.delete(id)) return;
    const leaf = leafOf(id);
    this.byLeaf.get(leaf)?.delete(id);
    this.tree.markDirty(leaf);
  }

  entries(leaf: number): LeafEntry[] {
    return [...(this.byLeaf.get(leaf) ?? [])].map((id) => ({ id, digest: this.records.get(id)!.digest, clock: this.records.get(id)!.clock }));
  }

  copyOf(id: string): CopyItem | undefined {
    const record = this.records.get(id);
    return record === undefined ? undefined : { id, digest: record.digest, copy: { clock: record.clock, value: record.value } };
  }

  /** The bytes were changed in the store and the index followed them: same clock, another digest. */
  alter(id: string): void {
    const record = this.records.get(id)!;
    this.put(id, stored(id, record.clock, `${record.value}!`));
  }

  /** A scrub found the stored bytes no longer match their digest. */
  corrupt(id: string): void {
    const record = this.records.get(id)!;
    this.put(id, { ...record, value: 'garbage', digest: CORRUPT_DIGEST });
  }

  root(): string {
    this.tree.refreshSync((leaf) => this.entries(leaf));
    return this.tree.root();
  }
}

/** The log as the harness ships it: what the primary (re-)logs, every replica overwrites with. */
interface LoggedWrite {
  id: string;
  record: Stored | null;
  /** Written by a repair (merge, replace, restate) rather than by a client. */
  repair: boolean;
}

interface Waiting {
  node: string;
  token: number;
  op: string;
}

class Harness {
  readonly settings: AntiEntropySettings;
  readonly copies = new Map<string, Copy>();
  readonly cores = new Map<string, ExchangeCore>();
  readonly primary: string;
  readonly replicas: string[];
  nowMs = 0;
  epoch: Epoch = EPOCH;
  readonly lagging = new Set<string>();
  readonly down = new Set<string>();
  /** While set, logged writes wait in `log` until deliverLog(). */
  holdLog = false;
  readonly log: LoggedWrite[] = [];
  readonly trace: { node: string; directive: Directive }[] = [];
  readonly events: ExchangeEvent[] = [];
  readonly bodies: { op: string; kind: 'request' | 'reply'; bytes: number }[] = [];
  /** Bytes of records repairs shipped through the log. */
  repairLogBytes = 0;
  /**
   * Bytes of the record copies inside ae.copies replies, counted as everyRecordBytes counts
   * a record: the repaired records themselves, not protocol.
   */
  copyRecordBytes = 0;
  private readonly waiting = new Map<number, Waiting>();
  private nextReplyTo = 1;

  constructor(nodes: string[], settings: Partial<AntiEntropySettings> = {}) {
    this.settings = { ...antiEntropyPresets.lan, ...settings };
    validateAntiEntropySettings(this.settings);
    [this.primary, ...this.replicas] = nodes as [string, ...string[]];
    for (const node of nodes) {
      this.copies.set(node, new Copy());
      this.cores.set(node, new ExchangeCore({ self: node, settings: this.settings }));
    }
  }

  copy(node: string): Copy {
    return this.copies.get(node)!;
  }

  /** The same records on every copy, as if replicated long ago. */
  seed(count: number): string[] {
    const ids = Array.from({ length: count }, (_, i) => `memory-${String(i).padStart(6, '0')}`);
    for (const id of ids) {
      const record = stored(id, { a: 1 });
      for (const copy of this.copies.values()) copy.put(id, record);
    }
    return ids;
  }

  /** A client write on the primary, logged. */
  write(id: string, value: string): void {
    const copy = this.copy(this.primary);
    const clock = { ...(copy.records.get(id)?.clock ?? {}) };
    clock[this.primary] = (clock[this.primary] ?? 0) + 1;
    copy.put(id, stored(id, clock, value));
    this.relog(id, false);
  }

  private relog(id: string, repair: boolean): void {
    const record = this.copy(this.primary).records.get(id) ?? null;
    this.log.push({ id, record, repair });
    if (!this.holdLog) this.deliverLog();
  }

  deliverLog(): void {
    for (const write of this.log.splice(0)) {
      for (const replica of this.replicas) {
        if (this.down.has(replica)) continue;
        if (write.repair) this.repairLogBytes += jsonBytes(write.record === null ? { id: write.id } : this.copy(this.primary).copyOf(write.id) ?? { id: write.id });
        if (write.record === null) this.copy(replica).remove(write.id);
        else this.copy(replica).put(write.id, write.record);
      }
    }
  }

  held(node: string): HeldShard[] {
    const primary = node === this.primary;
    return [{ space: SPACE, shard: SHARD, epoch: this.epoch, role: primary ? 'primary' : 'replica', replicas: primary ? this.replicas : [], lagging: [...this.lagging], ready: true }];
  }

  /** Ticks the replicas first, so each knows its roles before the primary's requests reach it. */
  tick(): void {
    for (const node of [...this.replicas, this.primary]) this.run(node, this.cores.get(node)!.onTick(this.nowMs, this.held(node)));
  }

  /** Runs directives, and all those they lead to, in FIFO order. */
  run(node: string, directives: Directive[]): void {
    const queue = directives.map((directive) => ({ node, directive }));
    while (queue.length > 0) {
      const next = queue.shift()!;
      this.trace.push(next);
      for (const [to, more] of this.handle(next.node, next.directive)) queue.push(...more.map((directive) => ({ node: to, directive })));
    }
  }

  private note(op: string, kind: 'request' | 'reply', body: unknown): unknown {
    const bytes = jsonBytes(body);
    this.bodies.push({ op, kind, bytes });
    if (op === antiEntropyOperations.copies && kind === 'reply') for (const item of (body as { copies?: CopyItem[] }).copies ?? []) this.copyRecordBytes += jsonBytes(item) + 1;
    expect(bytes, `${kind} of ${op}`).toBeLessThanOrEqual(this.settings.maxPayloadBytes);
    return JSON.parse(JSON.stringify(body));
  }

  private handle(node: string, d: Directive): [string, Directive[]][] {
    const core = this.cores.get(node)!;
    const copy = this.copy(node);
    const now = this.nowMs;
    switch (d.type) {
      case 'request': {
        const body = this.note(d.op, 'request', d.body);
        if (this.down.has(d.to)) return [[node, core.onReply(d.token, { ok: false, error: 'timeout' }, now)]];
        const replyTo = this.nextReplyTo++;
        this.waiting.set(replyTo, { node, token: d.token, op: d.op });
        return [[d.to, this.cores.get(d.to)!.onRequest(node, d.op, body, replyTo, now)]];
      }
      case 'reply': {
        const waiting = this.waiting.get(d.replyTo)!;
        this.waiting.delete(d.replyTo);
        const body = this.note(waiting.op, 'reply', d.body);
        return [[waiting.node, this.cores.get(waiting.node)!.onReply(waiting.token, { ok: true, value: body }, now)]];
      }
      case 'readTree':
        copy.tree.refreshSync((leaf) => copy.entries(leaf));
        return [[node, core.onStorage(d.token, { ok: true, value: copy.tree.read(d.level, d.indices) }, now)]];
      case 'readLeaves':
        return [[node, core.onStorage(d.token, { ok: true, value: d.leaves.map((leaf) => copy.entries(leaf)) }, now)]];
      case 'readCopies':
        return [[node, core.onStorage(d.token, { ok: true, value: d.ids.map((id) => copy.copyOf(id)).filter((c) => c !== undefined) }, now)]];
      case 'merge':
        for (const item of d.copies) {
          copy.put(item.id, join(item.id, copy.records.get(item.id), fromCopy(item)));
          this.relog(item.id, true);
        }
        return [];
      case 'replace':
        for (const item of d.copies) {
          const record = fromCopy(item);
          expect(record.digest).toBe(item.digest);
          copy.put(item.id, record);
          this.relog(item.id, true);
        }
        return [];
      case 'restate':
        for (const id of d.ids) this.relog(id, true);
        return [];
      case 'matched':
        return [];
      case 'event':
        this.events.push(d.event);
        return [];
    }
  }

  /** Round ends (finished or failed) with `peer` so far. */
  roundsWith(peer: string): ExchangeEvent[] {
    return this.events.filter((e) => (e.kind === 'roundFinished' || e.kind === 'roundFailed') && e.peer === peer);
  }

  /** Advances the clock in 100 ms steps until every replica (or `only`) ended one more round; returns those ends. */
  nextRound(only?: string): ExchangeEvent[] {
    const peers = only === undefined ? this.replicas : [only];
    const before = new Map(peers.map((peer) => [peer, this.roundsWith(peer).length]));
    const from = this.events.length;
    for (let step = 0; step < 10_000; step++) {
      this.tick();
      if (peers.every((peer) => this.roundsWith(peer).length > before.get(peer)!)) return this.events.slice(from).filter((e) => e.kind !== 'refused');
      this.nowMs += 100;
    }
    throw new Error('no round ended');
  }

  converged(): boolean {
    const primary = this.copy(this.primary);
    return this.replicas.every((replica) => {
      const copy = this.copy(replica);
      if (copy.root() !== primary.root() || copy.records.size !== primary.records.size) return false;
      for (const [id, record] of primary.records) if (copy.records.get(id)?.digest !== record.digest) return false;
      return true;
    });
  }

  /** Bytes of sending every record of the primary whole: what a full resync would ship. */
  everyRecordBytes(): number {
    let bytes = 0;
    const primary = this.copy(this.primary);
    for (const id of primary.records.keys()) bytes += jsonBytes(primary.copyOf(id)) + 1;
    return bytes;
  }

  directivesOf<T extends Directive['type']>(type: T): Extract<Directive, { type: T }>[] {
    return this.trace.map((t) => t.directive).filter((d): d is Extract<Directive, { type: T }> => d.type === type);
  }
}

function fromCopy(item: CopyItem): Stored {
  const copy = item.copy as { clock: Clock; value: string };
  return stored(item.id, copy.clock, copy.value);
}

/** The harness's join: the later version, or for concurrent ones the larger value under the merged clock. */
function join(id: string, local: Stored | undefined, incoming: Stored): Stored {
  if (local === undefined || local.digest === CORRUPT_DIGEST) return incoming;
  const order = compare(incoming.clock, local.clock);
  if (order === 'AFTER') return incoming;
  if (order === 'BEFORE' || order === 'EQUAL') return local;
  const clock = mergeClocks(local.clock, incoming.clock);
  const value = local.value > incoming.value ? local.value : incoming.value;
  return stored(id, clock, value);
}

function finished(events: ExchangeEvent[]): Extract<ExchangeEvent, { kind: 'roundFinished' }>[] {
  return events.filter((e): e is Extract<ExchangeEvent, { kind: 'roundFinished' }> => e.kind === 'roundFinished');
}

function sum(events: ExchangeEvent[], field: keyof RoundCounts): number {
  return events.reduce((n, e) => n + ('counts' in e ? e.counts[field] : 0), 0);
}

/** k ids spread over the shard, deterministically. */
function pick(ids: readonly string[], k: number, offset = 0): string[] {
  const step = Math.floor(ids.length / k);
  return Array.from({ length: k }, (_, i) => ids[(i * step + offset) % ids.length]!);
}

describe('agreeing copies', () => {
  it('onTick_withIdenticalCopies_matchesInOneRound_withOneSmallMessageEachWay', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.seed(10_000);
    const round = finished(h.nextRound());
    expect(round.map((e) => [e.peer, e.outcome])).toEqual([
      ['b', 'matched'],
      ['c', 'matched'],
    ]);
    for (const e of round) {
      expect(e.counts.requests).toBe(1);
      expect(e.counts.bytesSent).toBeLessThan(250);
      expect(e.counts.bytesReceived).toBeLessThan(150);
    }
    expect(h.directivesOf('matched').map((d) => d.peer)).toEqual(['b', 'c']);
    const status = h.cores.get('a')!.status(SPACE, SHARD)!;
    expect(status.root).toBe(h.copy('a').root());
    expect(status.replicas.map((r) => [r.node, r.root === status.root, r.digestMatchedAt])).toEqual([
      ['b', true, 0],
      // One round a shard at a time: c's waited for b's, and the harness ticks every 100 ms.
      ['c', true, 100],
    ]);
  });

  it('rounds_withAgreeingCopies_runEveryIntervalMs_perReplica', () => {
    const h = new Harness(['a', 'b']);
    h.seed(100);
    h.nextRound();
    const first = h.nowMs;
    h.nextRound();
    expect(h.nowMs - first).toBe(h.settings.intervalMs);
    expect(h.cores.get('a')!.status(SPACE, SHARD)!.replicas[0]!.digestMatchedAt).toBe(h.nowMs);
  });

  it('onTick_withEmptyCopies_matches', () => {
    const h = new Harness(['a', 'b']);
    expect(finished(h.nextRound()).map((e) => e.outcome)).toEqual(['matched']);
  });
});

describe('repairing damage', () => {
  type Damage = { name: string; on: 'primary' | 'replica'; apply: (copy: Copy, id: string) => void; rounds: number; counted: keyof RoundCounts };
  const damages: Damage[] = [
    { name: 'deleted on the replica', on: 'replica', apply: (copy, id) => copy.remove(id), rounds: 2, counted: 'restated' },
    { name: 'altered on the replica', on: 'replica', apply: (copy, id) => copy.alter(id), rounds: 2, counted: 'restated' },
    { name: 'CORRUPT on the replica', on: 'replica', apply: (copy, id) => copy.corrupt(id), rounds: 2, counted: 'restated' },
    { name: 'deleted on the primary', on: 'primary', apply: (copy, id) => copy.remove(id), rounds: 1, counted: 'merged' },
    { name: 'CORRUPT on the primary', on: 'primary', apply: (copy, id) => copy.corrupt(id), rounds: 1, counted: 'replaced' },
  ];

  for (const damage of damages) {
    it(`roundsAfterDamage_with1PercentOf10kRecords${damage.name.replaceAll(' ', '')}_convergeWithin${damage.rounds}Rounds_inUnder1PercentOfAFullTransferOfProtocol`, () => {
      const h = new Harness(['a', 'b', 'c']);
      const ids = h.seed(10_000);
      h.nextRound();
      const damaged = pick(ids, 100);
      const node = damage.on === 'primary' ? 'a' : 'b';
      for (const id of damaged) damage.apply(h.copy(node), id);
      expect(h.converged()).toBe(false);

      const since = h.events.length;
      let rounds = 0;
      while (!h.converged()) {
        h.nextRound('b');
        rounds++;
        expect(rounds).toBeLessThanOrEqual(damage.rounds);
      }
      expect(rounds).toBe(damage.rounds);
      const events = h.events.slice(since);
      expect(events.filter((e) => e.kind === 'roundFailed')).toEqual([]);
      expect(sum(events, damage.counted)).toBe(100);
      expect(sum(events, 'merged') + sum(events, 'replaced') + sum(events, 'restated')).toBe(100);
      const exchanged = sum(events, 'bytesSent') + sum(events, 'bytesReceived');
      const protocol = exchanged - h.copyRecordBytes;
      const all = h.everyRecordBytes();
      console.log(
        `anti-entropy, 100 of 10k ${damage.name}: ${rounds} round(s), ${protocol} protocol bytes (${((100 * protocol) / all).toFixed(2)}% of the ${all} bytes of a full transfer), ` +
          `${h.copyRecordBytes} bytes of records in copies replies, ${h.repairLogBytes} bytes of repaired records through the log`,
      );
      // At 10k records (~2.4 a leaf) the tree descent, not the entries, is most of it.
      expect(protocol).toBeLessThan(0.011 * all);
      expect(exchanged).toBeLessThan(0.02 * all);
      // The repaired records themselves travel once each (through the log, or in copies replies): O(k).
      expect(h.repairLogBytes).toBeLessThan(0.02 * all);
      expect(h.cores.get('a')!.pendingWork).toMatchObject({ rounds: 0, tokens: 0, responses: 0 });
    });
  }

  /** `count` ids that land in `leaf`, as `prefix-<n>`. */
  function idsInLeaf(leaf: number, count: number, prefix = 'crowd'): string[] {
    const out: string[] = [];
    for (let i = 0; out.length < count; i++) if (leafOf(`${prefix}-${i}`) === leaf) out.push(`${prefix}-${i}`);
    return out;
  }

  for (const crowd of [0, 40]) {
    it(`aDigestSharingItsFirst64BitsWithThePrimarys_inALeafOf${crowd === 0 ? 'FewEntries' : 'ManyEntries'}_isFoundByFetchingItAgainWithFullDigests`, () => {
      const h = new Harness(['a', 'b']);
      h.seed(1_000);
      const [id, ...others] = idsInLeaf(77, crowd + 1);
      for (const other of [id!, ...others]) for (const copy of h.copies.values()) copy.put(other, stored(other, { a: 1 }));
      h.nextRound();
      const own = h.copy('a').records.get(id!)!;
      // Other bytes on the replica whose digest starts like the primary's: truncated, the entries agree.
      const twin = `${own.digest.slice(0, 16)}${'0'.repeat(48)}`;
      expect(twin).not.toBe(own.digest);
      h.copy('b').put(id!, { ...own, value: 'other bytes', digest: twin });
      const from = h.trace.length;
      const first = finished(h.nextRound())[0]!;
      expect(first).toMatchObject({ outcome: 'differed', counts: { idsDiffering: 1, suspected: 1 } });
      const cursors = h.trace.slice(from).flatMap((t) => (t.directive.type === 'request' && t.directive.op === antiEntropyOperations.leaves ? [(t.directive.body as LeavesRequest).leaves] : []));
      // First truncated, then again whole: the sub-bucket when its hashes were compared, the whole small leaf otherwise.
      const mask = crowd === 0 ? ALL_SUB_BUCKETS : 1 << subBucketOf(id!);
      expect(cursors).toEqual([[[77, mask, null, WIRE_DIGEST_CHARS]], [[77, mask, null, FULL_DIGEST_CHARS]]]);
      h.nextRound();
      expect(h.directivesOf('restate').map((d) => d.ids)).toEqual([[id]]);
      expect(h.converged()).toBe(true);
    });
  }

  it('aLeafOfFewEntries_isFetchedWhole_andALargerOne_onlyItsDifferingSubBucket', () => {
    const h = new Harness(['a', 'b']);
    h.seed(200);
    const crowded = idsInLeaf(77, 40);
    for (const id of crowded) for (const copy of h.copies.values()) copy.put(id, stored(id, { a: 1 }));
    h.nextRound();
    const sparse = 'memory-000042';
    expect(h.copy('a').entries(leafOf(sparse)).length).toBeLessThanOrEqual(WHOLE_LEAF_ENTRIES);
    h.copy('b').alter(sparse);
    h.copy('b').alter(crowded[5]!);
    const from = h.trace.length;
    finished(h.nextRound());
    const requests = h.trace.slice(from).flatMap((t) => (t.directive.type === 'request' ? [t.directive] : []));
    expect(requests.filter((r) => r.op === antiEntropyOperations.buckets).map((r) => (r.body as { leaves: number[] }).leaves)).toEqual([[77]]);
    const cursors = requests.filter((r) => r.op === antiEntropyOperations.leaves).flatMap((r) => (r.body as LeavesRequest).leaves);
    expect(cursors).toEqual(
      [
        [77, 1 << subBucketOf(crowded[5]!), null, WIRE_DIGEST_CHARS],
        [leafOf(sparse), ALL_SUB_BUCKETS, null, WIRE_DIGEST_CHARS],
      ].sort((x, y) => (x[0] as number) - (y[0] as number)),
    );
    h.nextRound();
    expect(h.converged()).toBe(true);
  });

  it('roundsAfterDamage_onOneReplicaOfThree_repairBothAndLeaveTheOtherMatched', () => {
    const h = new Harness(['a', 'b', 'c']);
    const ids = h.seed(2_000);
    h.nextRound();
    for (const id of pick(ids, 10)) h.copy('c').remove(id);
    for (const id of pick(ids, 10, 3)) h.copy('a').remove(id);
    const first = h.nextRound();
    expect(finished(first).find((e) => e.peer === 'b')!.counts.merged).toBe(10);
    h.nextRound();
    h.nextRound();
    expect(h.converged()).toBe(true);
  });
});

describe('lag is not damage', () => {
  it('aRecordMissingOnTheReplicaForOneRoundOnly_isNeverRestated', () => {
    const h = new Harness(['a', 'b']);
    h.seed(1_000);
    h.nextRound();
    h.holdLog = true;
    h.write('fresh', 'new record');
    const first = finished(h.nextRound());
    expect(first[0]!).toMatchObject({ outcome: 'differed', counts: { idsDiffering: 1, suspected: 1, restated: 0 } });
    h.holdLog = false;
    h.deliverLog();
    const second = finished(h.nextRound());
    expect(second[0]!.outcome).toBe('matched');
    expect(h.directivesOf('restate')).toEqual([]);
    expect(h.cores.get('a')!.status(SPACE, SHARD)!.replicas[0]!.suspects).toBe(0);
  });

  it('aSuspect_isConfirmedAfterConfirmAfterMs_notAfterIntervalMs', () => {
    const h = new Harness(['a', 'b']);
    const ids = h.seed(100);
    h.nextRound();
    h.copy('b').remove(ids[5]!);
    h.nextRound();
    const suspectedAt = h.nowMs;
    h.nextRound();
    expect(h.nowMs - suspectedAt).toBe(h.settings.confirmAfterMs);
    expect(h.directivesOf('restate').map((d) => d.ids)).toEqual([[ids[5]]]);
  });

  it('aDifferenceWhosePairChangedBetweenRounds_isSuspectedAgain_notRestated', () => {
    const h = new Harness(['a', 'b']);
    h.seed(100);
    h.nextRound();
    h.holdLog = true;
    h.write('hot', 'one');
    h.nextRound();
    h.write('hot', 'two');
    const second = finished(h.nextRound());
    expect(second[0]!.counts).toMatchObject({ restated: 0, suspected: 1 });
    expect(h.directivesOf('restate')).toEqual([]);
  });

  it('aReplicaReplicationReportsLagging_isComparedButNeverRestated', () => {
    const h = new Harness(['a', 'b']);
    h.seed(100);
    h.nextRound();
    h.holdLog = true;
    h.lagging.add('b');
    h.write('late', 'x');
    for (let i = 0; i < 3; i++) expect(finished(h.nextRound())[0]!.counts).toMatchObject({ restated: 0, suspected: 1 });
    h.lagging.delete('b');
    finished(h.nextRound());
    expect(h.directivesOf('restate').map((d) => d.ids)).toEqual([['late']]);
  });
});

describe('versions the primary lacks', () => {
  it('aConcurrentVersionOnTheReplica_isMergedInTheFirstRound', () => {
    const h = new Harness(['a', 'b']);
    const ids = h.seed(500);
    h.nextRound();
    const id = ids[42]!;
    h.copy('b').put(id, stored(id, { a: 1, b: 1 }, 'written on b while it led'));
    h.copy('a').put(id, stored(id, { a: 2 }, 'written on a'));
    const first = finished(h.nextRound());
    expect(first[0]!.counts).toMatchObject({ merged: 1, restated: 0 });
    const merges = h.directivesOf('merge');
    expect(merges).toHaveLength(1);
    expect(merges[0]!.copies.map((c) => c.id)).toEqual([id]);
    expect(h.copy('a').records.get(id)!.clock).toEqual({ a: 2, b: 1 });
    expect(h.converged()).toBe(true);
  });

  it('aVersionAheadOnTheReplica_isMerged_andARecordOnlyTheReplicaHolds_too', () => {
    const h = new Harness(['a', 'b']);
    const ids = h.seed(500);
    h.nextRound();
    h.copy('b').put(ids[7]!, stored(ids[7]!, { a: 5 }, 'ahead'));
    h.copy('b').put('only-on-b', stored('only-on-b', { b: 1 }, 'kept by b'));
    const round = finished(h.nextRound())[0]!;
    expect(round.counts).toMatchObject({ merged: 2, idsDiffering: 2 });
    expect(h.converged()).toBe(true);
    expect(h.copy('a').records.get('only-on-b')!.value).toBe('kept by b');
  });

  it('aRecordCorruptOnBothCopies_isCountedUnrepairable_andNeverMerged', () => {
    const h = new Harness(['a', 'b']);
    const ids = h.seed(100);
    h.nextRound();
    h.copy('a').corrupt(ids[1]!);
    h.copy('b').corrupt(ids[1]!);
    // Both hold CORRUPT_DIGEST: the digests agree, so the trees do; a third copy would supply it.
    expect(finished(h.nextRound())[0]!.outcome).toBe('matched');
    h.copy('b').remove(ids[1]!);
    const round = finished(h.nextRound())[0]!;
    expect(round.counts).toMatchObject({ unrepairable: 1, merged: 0, replaced: 0, suspected: 0 });
    expect(h.directivesOf('merge')).toEqual([]);
  });
});

describe('bounds', () => {
  it('everyRequestAndReply_fitsASmallPayloadBudget_whileRepairingPagedLeavesAndCopies', () => {
    const h = new Harness(['a', 'b'], { maxPayloadBytes: 4096 });
    const ids = h.seed(3_000);
    // Forty records in one leaf: its entries take several pages.
    const crowded: string[] = [];
    for (let i = 0; crowded.length < 40; i++) if (leafOf(`crowd-${i}`) === 77) crowded.push(`crowd-${i}`);
    for (const id of crowded) for (const copy of h.copies.values()) copy.put(id, stored(id, { a: 1 }));
    h.nextRound();
    for (const id of pick(ids, 150)) h.copy('a').remove(id);
    for (const id of crowded) h.copy('a').corrupt(id);
    for (const id of pick(ids, 30, 7)) h.copy('b').alter(id);
    for (let round = 0; round < 3 && !h.converged(); round++) h.nextRound();
    expect(h.converged()).toBe(true);
    expect(Math.max(...h.bodies.map((b) => b.bytes))).toBeLessThanOrEqual(4096);
    expect(h.bodies.filter((b) => b.op === antiEntropyOperations.leaves).length).toBeGreaterThan(2);
    expect(h.bodies.filter((b) => b.op === antiEntropyOperations.copies).length).toBeGreaterThan(10);
    expect(h.events.filter((e) => e.kind === 'roundFailed')).toEqual([]);
  });

  it('suspects_beyondMaxSuspects_dropTheOldestAndAreCounted_andStillConvergeOverRounds', () => {
    const h = new Harness(['a', 'b'], { maxSuspects: 10 });
    const ids = h.seed(1_000);
    h.nextRound();
    for (const id of pick(ids, 25)) h.copy('b').remove(id);
    const first = finished(h.nextRound())[0]!;
    expect(first.counts).toMatchObject({ suspected: 10, suspectsDropped: 15 });
    for (let round = 0; round < 10 && !h.converged(); round++) h.nextRound();
    expect(h.converged()).toBe(true);
  });

  it('repairs_beyondMaxRepairsPerRound_waitForTheNextRound', () => {
    const h = new Harness(['a', 'b'], { maxRepairsPerRound: 5 });
    const ids = h.seed(500);
    h.nextRound();
    for (const id of pick(ids, 12)) h.copy('a').remove(id);
    expect(finished(h.nextRound())[0]!.counts).toMatchObject({ merged: 5, repairsDeferred: 7 });
    h.nextRound();
    h.nextRound();
    expect(h.converged()).toBe(true);
  });

  it('onTick_withManyDuePairs_runsAtMostMaxConcurrentExchanges_andOneRoundAShard', () => {
    const core = new ExchangeCore({ self: 'a', settings: { ...antiEntropyPresets.lan, maxConcurrentExchanges: 2 } });
    const held: HeldShard[] = [0, 1, 2, 3].map((shard) => ({ space: SPACE, shard, epoch: EPOCH, role: 'primary', replicas: ['b', 'c'], lagging: [], ready: true }));
    const out = core.onTick(0, held);
    expect(out.filter((d) => d.type === 'readTree').map((d) => (d as { shard: number }).shard)).toEqual([0, 1]);
    expect(core.pendingWork).toMatchObject({ rounds: 2, exchanges: 8 });
    expect(core.onTick(100, held)).toEqual([]);
  });

  it('aRoundWhoseOutcomeNeverComes_isAbandonedAfterRoundTimeoutMs_andItsLateOutcomeIgnored', () => {
    const settings = { ...antiEntropyPresets.lan, maxConcurrentExchanges: 1 };
    const core = new ExchangeCore({ self: 'a', settings });
    const held: HeldShard[] = [{ space: SPACE, shard: 0, epoch: EPOCH, role: 'primary', replicas: ['b'], lagging: [], ready: true }];
    const [read] = core.onTick(0, held);
    expect(read!.type).toBe('readTree');
    const out = core.onTick(settings.roundTimeoutMs + 1, held);
    expect(out.find((d) => d.type === 'event')).toMatchObject({ event: { kind: 'roundFailed', reason: expect.stringMatching(/roundTimeoutMs/) } });
    // The pair was overdue, so its next round starts at once.
    expect(out.filter((d) => d.type === 'readTree')).toHaveLength(1);
    expect(core.onStorage((read as { token: number }).token, { ok: true, value: HashTree.empty().read(0, [0]) }, settings.roundTimeoutMs + 2)).toEqual([]);
    expect(core.status(SPACE, 0)!.replicas[0]).toMatchObject({ lastOutcome: 'failed', lastError: expect.stringMatching(/roundTimeoutMs/), running: true });
  });
});

describe('failures and roles', () => {
  it('aReplicaThatIsDown_failsTheRound_whichIsRetriedAfterIntervalMs', () => {
    const h = new Harness(['a', 'b']);
    h.seed(10);
    h.down.add('b');
    const [failed] = h.nextRound();
    expect(failed).toMatchObject({ kind: 'roundFailed', reason: expect.stringMatching(/timeout/) });
    const at = h.nowMs;
    h.down.delete('b');
    expect(finished(h.nextRound())[0]!.outcome).toBe('matched');
    expect(h.nowMs - at).toBe(h.settings.intervalMs);
  });

  it('aReplicaThatKnowsAHigherEpoch_refuses_andTheRoundFailsWithoutRepairing', () => {
    const h = new Harness(['a', 'b']);
    const ids = h.seed(10);
    h.copy('a').remove(ids[0]!);
    const held = h.held.bind(h);
    h.held = (node) => (node === 'b' ? held(node).map((s) => ({ ...s, epoch: [3, 'b'] as Epoch })) : held(node));
    const [failed] = h.nextRound();
    expect(failed).toMatchObject({ kind: 'roundFailed', reason: expect.stringMatching(/stale-epoch/) });
    expect(h.directivesOf('merge')).toEqual([]);
  });

  it('onRequest_forAShardNotHeldOrNotReadyOrMalformed_isRefused', () => {
    const core = new ExchangeCore({ self: 'b', settings: antiEntropyPresets.lan });
    const body = { v: ANTI_ENTROPY_VERSION, space: SPACE, shard: SHARD, epoch: EPOCH, from: 'a', level: 0, indices: [0] };
    const refusalOf = (out: Directive[]) => (out.find((d) => d.type === 'reply') as { body: { refused: string } }).body.refused;
    expect(refusalOf(core.onRequest('a', antiEntropyOperations.tree, body, 1, 0))).toBe('not-held');
    core.onTick(0, [{ space: SPACE, shard: SHARD, epoch: EPOCH, role: 'replica', replicas: [], lagging: [], ready: false }]);
    expect(refusalOf(core.onRequest('a', antiEntropyOperations.tree, body, 2, 0))).toBe('not-ready');
    core.onTick(0, [{ space: SPACE, shard: SHARD, epoch: EPOCH, role: 'replica', replicas: [], lagging: [], ready: true }]);
    expect(refusalOf(core.onRequest('a', antiEntropyOperations.tree, { ...body, indices: [3] }, 3, 0))).toBe('malformed');
    // A node of the previous message version is refused: the two do not interoperate.
    expect(refusalOf(core.onRequest('a', antiEntropyOperations.tree, { ...body, v: ANTI_ENTROPY_VERSION - 1 }, 4, 0))).toBe('malformed');
    expect(refusalOf(core.onRequest('a', 'ae.unknown', body, 5, 0))).toBe('malformed');
    expect(refusalOf(core.onRequest('a', antiEntropyOperations.tree, { ...body, epoch: [1, 'z'] }, 6, 0))).toBe('stale-epoch');
    expect(core.onRequest('a', antiEntropyOperations.tree, body, 7, 0)).toEqual([expect.objectContaining({ type: 'readTree', level: 0, indices: [0] })]);
  });

  it('onRequest_beyondMaxConcurrentResponses_isRefusedBusy_untilReadsComplete_orExpire', () => {
    const settings = { ...antiEntropyPresets.lan, maxConcurrentResponses: 2 };
    const core = new ExchangeCore({ self: 'b', settings });
    core.onTick(0, [{ space: SPACE, shard: SHARD, epoch: EPOCH, role: 'replica', replicas: [], lagging: [], ready: true }]);
    const body = { v: ANTI_ENTROPY_VERSION, space: SPACE, shard: SHARD, epoch: EPOCH, from: 'a', level: 0, indices: [0] };
    const [first] = core.onRequest('a', antiEntropyOperations.tree, body, 1, 0);
    core.onRequest('a', antiEntropyOperations.tree, body, 2, 0);
    expect(core.onRequest('a', antiEntropyOperations.tree, body, 3, 0)[0]).toMatchObject({ type: 'reply', body: { refused: 'busy' } });
    expect(core.onStorage((first as { token: number }).token, { ok: true, value: HashTree.empty().read(0, [0]) }, 1)[0]).toMatchObject({ type: 'reply', replyTo: 1 });
    expect(core.onRequest('a', antiEntropyOperations.tree, body, 4, 1)[0]!.type).toBe('readTree');
    core.onTick(settings.requestTimeoutMs + 10, [{ space: SPACE, shard: SHARD, epoch: EPOCH, role: 'replica', replicas: [], lagging: [], ready: true }]);
    expect(core.pendingWork.responses).toBe(0);
  });

  it('exchanges_ofAShardThisNodeNoLongerLeads_areDropped_withTheirStatus', () => {
    const h = new Harness(['a', 'b']);
    h.seed(10);
    h.nextRound();
    const core = h.cores.get('a')!;
    core.onTick(h.nowMs, [{ ...h.held('a')[0]!, role: 'replica', replicas: [] }]);
    expect(core.pendingWork.exchanges).toBe(0);
    expect(core.status(SPACE, SHARD)).toBeNull();
  });

  it('theSameInputs_produceTheSameDirectives', () => {
    const traceOf = () => {
      const h = new Harness(['a', 'b', 'c'], { maxPayloadBytes: 8192 });
      const ids = h.seed(1_000);
      h.nextRound();
      for (const id of pick(ids, 20)) h.copy('b').alter(id);
      for (const id of pick(ids, 20, 5)) h.copy('a').corrupt(id);
      h.nextRound();
      h.nextRound();
      return JSON.stringify(h.trace);
    };
    expect(traceOf()).toBe(traceOf());
  });
});

describe('figures', () => {
  /** Bytes of each operation's requests and replies in `bodies`, e.g. "tree 95.1 KB". */
  function byOperation(bodies: Harness['bodies']): string {
    const totals = new Map<string, number>();
    for (const body of bodies) totals.set(body.op, (totals.get(body.op) ?? 0) + body.bytes);
    return [...totals].map(([op, bytes]) => `${op.replace('ae.', '')} ${(bytes / 1e3).toFixed(1)} KB`).join(', ');
  }

  it('repairing1PercentOf100kRecords_costsUnder1PercentOfAFullTransferInProtocolBytes', () => {
    const h = new Harness(['a', 'b']);
    const ids = h.seed(100_000);
    h.nextRound();
    // A full transfer: every record of the primary sent whole, ~1.13 KB a record copy
    // ({id, digest, copy} of a ~1 KB value): 113.5 MB for 100k records.
    const all = h.everyRecordBytes();
    expect(all).toBeGreaterThan(113e6);
    expect(all).toBeLessThan(114e6);
    const report: string[] = [];
    // One altered record: the descent to its leaf, one leaf's sub-bucket hashes and one sub-bucket's entries.
    const single = h.events.length;
    const singleBodies = h.bodies.length;
    h.copy('b').alter(ids[31_337]!);
    h.nextRound();
    h.nextRound();
    expect(h.converged()).toBe(true);
    for (const e of finished(h.events.slice(single))) {
      expect(e.counts.requests).toBeLessThanOrEqual(5);
      expect(e.counts.bytesSent + e.counts.bytesReceived).toBeLessThan(3_000);
    }
    report.push(`  one record altered on the replica: 2 rounds of ${finished(h.events.slice(single)).map((e) => `${e.counts.bytesSent + e.counts.bytesReceived} bytes in ${e.counts.requests} requests`).join(' and ')} (${byOperation(h.bodies.slice(singleBodies))})`);
    for (const [name, damage, expectedRounds] of [
      ['altered on the replica', (id: string) => h.copy('b').alter(id), 2],
      ['deleted on the primary', (id: string) => h.copy('a').remove(id), 1],
    ] as const) {
      const logBefore = h.repairLogBytes;
      const copiesBefore = h.copyRecordBytes;
      const bodiesBefore = h.bodies.length;
      for (const id of pick(ids, 1_000, name.length)) damage(id);
      const since = h.events.length;
      let rounds = 0;
      while (!h.converged() && rounds < 4) {
        h.nextRound();
        rounds++;
      }
      expect(h.converged()).toBe(true);
      expect(rounds).toBe(expectedRounds);
      const events = h.events.slice(since);
      expect(events.filter((e) => e.kind === 'roundFailed')).toEqual([]);
      const exchanged = sum(events, 'bytesSent') + sum(events, 'bytesReceived');
      // The repaired records: through the log to the replica, and (for damage on the
      // primary) inside the copies replies that bring them to the primary.
      const logged = h.repairLogBytes - logBefore;
      const copied = h.copyRecordBytes - copiesBefore;
      const protocol = exchanged - copied;
      const first = finished(events)[0]!.counts;
      report.push(
        `  ${name}: ${rounds} round(s); per round ${first.nodesCompared} tree nodes and ${first.leavesCompared} leaves compared, ${first.requests} requests; ` +
          `protocol ${(protocol / 1e3).toFixed(1)} KB = ${((100 * protocol) / all).toFixed(3)}% of a full transfer (${byOperation(h.bodies.slice(bodiesBefore))}, less ${(copied / 1e6).toFixed(2)} MB of records in copies replies); ` +
          `${(logged / 1e6).toFixed(2)} MB of repaired records through the log; everything ${(((exchanged + logged) * 100) / all).toFixed(2)}%`,
      );
      expect(protocol).toBeLessThan(0.01 * all);
      // Copies carry only the records repaired from the replica: ~1000 for damage on the primary, none for damage on the replica.
      expect(copied).toBeLessThan(0.0105 * all);
    }
    console.log(`anti-entropy, 1000 of 100k records damaged, a full transfer (~1.13 KB a record copy) would be ${(all / 1e6).toFixed(1)} MB:\n${report.join('\n')}`);
  });
});
