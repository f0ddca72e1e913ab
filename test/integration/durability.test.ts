// Acknowledged writes survive kill -9: a real node process takes 1000 writes, is killed
// with SIGKILL, restarts on the same directory, and must return every one of them by id
// and by recall. Restarts also exercise both index recovery paths: checkpoint plus log
// replay, and a rebuild from stored embeddings.
import { afterAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../support/clusteredVectors.js';
import { gqlData, Harness, waitForExit } from '../support/node.js';

const harness = new Harness();
afterAll(() => harness.cleanup());

const DIM = 32;
const random = mulberry32(7);
const vectors = Array.from({ length: 1200 }, () => Array.from({ length: DIM }, () => random() * 2 - 1));

interface RecoveryReport {
  space: string;
  memories: number;
  indexed: number;
  replayedEntries: number;
  rebuilt: boolean;
}

function recoveryOf(logs: string[], space: string): RecoveryReport {
  const line = logs.find((l) => l.includes('"memory space recovered"') && l.includes(`"space":"${space}"`));
  if (line === undefined) throw new Error(`no recovery report for ${space}:\n${logs.join('\n')}`);
  return JSON.parse(line) as RecoveryReport;
}

async function writeAll(url: string, from: number, to: number): Promise<void> {
  let next = from;
  const worker = async () => {
    while (next < to) {
      const i = next++;
      const data = await gqlData(url, `mutation($m: MemoryInput!) { remember(space: "durable", memory: $m) { id } }`, {
        m: { id: `mem-${i}`, content: `durable memory number ${i}`, embedding: vectors[i], tags: [`batch-${Math.floor(i / 100)}`] },
      });
      expect(data.remember.id).toBe(`mem-${i}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

async function expectAllPresent(url: string, count: number): Promise<void> {
  const total = await gqlData(url, `{ memories(space: "durable", first: 1) { totalCount } }`);
  expect(total.memories.totalCount).toBe(count);
  let next = 0;
  const missing: string[] = [];
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const data = await gqlData(url, `query($e: [Float!]) { memory(space: "durable", id: "mem-${i}") { content } recall(space: "durable", cue: { embedding: $e }, options: { mode: SIMILARITY, maxResults: 1 }) { memories { memory { id } } } }`, {
        e: vectors[i],
      });
      if (data.memory?.content !== `durable memory number ${i}` || data.recall.memories[0]?.memory.id !== `mem-${i}`) missing.push(`mem-${i}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  expect(missing).toEqual([]);
}

describe('durability', () => {
  it('acknowledgedWrites_surviveKill9_andRemainRecallableAfterRestart', async () => {
    const dataDir = harness.directory();
    const first = await harness.spawnNode(dataDir);
    await gqlData(first.url, `mutation { createSpace(id: "durable", dimension: ${DIM}) { id } }`);
    await writeAll(first.url, 0, 1000);
    first.child.kill('SIGKILL');
    expect((await waitForExit(first.child)).signal).toBe('SIGKILL');

    // No checkpoint was taken before the kill, so the index is rebuilt from stored embeddings.
    const second = await harness.spawnNode(dataDir);
    const rebuilt = recoveryOf(second.logs, 'durable');
    expect(rebuilt).toMatchObject({ memories: 1000, indexed: 1000, rebuilt: true });
    await expectAllPresent(second.url, 1000);

    // A graceful stop checkpoints the index; the next start loads it with nothing to replay.
    second.child.kill('SIGTERM');
    expect((await waitForExit(second.child)).code).toBe(0);
    const third = await harness.spawnNode(dataDir);
    expect(recoveryOf(third.logs, 'durable')).toMatchObject({ memories: 1000, indexed: 1000, rebuilt: false, replayedEntries: 0 });

    // Writes after the checkpoint, then kill -9: the checkpoint is loaded and the log tail replayed.
    await writeAll(third.url, 1000, 1200);
    await gqlData(third.url, `mutation { forget(space: "durable", id: "mem-1199", mode: DELETE) { affected } }`);
    third.child.kill('SIGKILL');
    await waitForExit(third.child);
    const fourth = await harness.spawnNode(dataDir);
    const replayed = recoveryOf(fourth.logs, 'durable');
    expect(replayed.rebuilt).toBe(false);
    expect(replayed.replayedEntries).toBeGreaterThanOrEqual(201);
    expect(replayed).toMatchObject({ memories: 1199, indexed: 1199 });
    await expectAllPresent(fourth.url, 1199);
    expect((await gqlData(fourth.url, `{ memory(space: "durable", id: "mem-1199") { id } }`)).memory).toBeNull();
    fourth.child.kill('SIGTERM');
    expect((await waitForExit(fourth.child)).code).toBe(0);
  }, 180_000);
});
