// Scenarios shared by the replication core's unit tests: a shard with a primary, a split
// both sides see, and the ids a log's entries wrote.
import { expect } from 'vitest';
import { CoreHarness, SHARD, shardView, SPACE, type WriteHandle } from './coreHarness.js';

export const NODES = ['a', 'b', 'c'] as const;
export const HEARTBEAT_MS = 250;

/** Rounds of heartbeat length that take the clock past `ms`. */
export const roundsPast = (ms: number) => Math.ceil(ms / HEARTBEAT_MS) + 1;

export function handle(attempt: ReturnType<CoreHarness['write']>): WriteHandle {
  if ('refused' in attempt) throw new Error(`the write was refused: ${attempt.refused}`);
  return attempt;
}

/** Three nodes, `a` claimed the shard with every copy answering. */
export async function withPrimary(options: { nodes?: readonly string[]; settings?: Parameters<typeof CoreHarness.create>[0]['settings'] } = {}): Promise<CoreHarness> {
  const harness = await CoreHarness.create({ nodes: options.nodes ?? NODES, ...(options.settings === undefined ? {} : { settings: options.settings }) });
  harness.place('a');
  harness.tick();
  await harness.runUntilQuiet();
  expect(harness.core('a').role).toBe('primary');
  return harness;
}

/** The split both sides see: `side` holds the shard's copies it can reach, with `primary` leading them. */
export function split(harness: CoreHarness, side: readonly string[], primary: string): void {
  for (const node of side) {
    harness.setView(node, shardView(node, { primary, copies: harness.nodes, live: side }));
    for (const other of harness.nodes) if (!side.includes(other)) harness.cut(node, other);
  }
}

export const ids = (entries: readonly { payload: unknown; type: string }[]) =>
  entries.map((entry) => (entry.type === 'DELETE' ? `-${(entry.payload as { id: string }).id}` : (entry.payload as { memory?: { id: string } }).memory?.id ?? entry.type));


/**
 * a leads a, b, c and writes m1..m3 (b cut off unless `bHasData`); c, cut off for the later
 * writes m4, m5, finds a's log compacted and starts a snapshot install, which a crash of c
 * interrupts right after its first batch. Returns with c restarted from its storage.
 */
export async function interruptedInstall({ bHasData }: { bHasData: boolean }): Promise<CoreHarness> {
  const harness = await withPrimary();
  if (!bHasData) harness.cut('a', 'b');
  for (const id of ['m1', 'm2', 'm3']) handle(harness.write('a', 'QUORUM', { id }));
  await harness.runUntilQuiet();
  expect(harness.core('c').lastSeq).toBe(3);
  harness.cut('a', 'c');
  for (const id of ['m4', 'm5']) harness.commit('a', { id });
  await harness.runUntilQuiet();
  harness.storage('a').compact(SPACE, SHARD, 4);
  harness.heal('a', 'c');
  await harness.settleUntil(() => harness.ranStorage('c', 'beginInstall'));
  harness.crash('c');
  await harness.restart('c');
  expect(harness.core('c').installing).toBe(true);
  expect(harness.core('a').lastSeq).toBe(5);
  expect(harness.core('b').lastSeq).toBe(bHasData ? 5 : 0);
  return harness;
}
