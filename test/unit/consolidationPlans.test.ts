// The pieces a sharded consolidation is built from: matching clusters to stored patterns,
// the owner's write of planned patterns, the paged scan a gatherer reads episodes with, and
// the check of plans that arrive from a peer.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultLimitSettings, presets } from '../../src/config.js';
import { covers, patternId, planPatterns, type EpisodeCluster, type PatternPlan } from '../../src/engine/consolidation.js';
import { Engine } from '../../src/engine/engine.js';
import { ManualScheduler } from '../../src/engine/scheduler.js';
import type { MemoryRecord } from '../../src/engine/types.js';
import { plansFromWire } from '../../src/service/consolidationGather.js';
import { answerRead, embeddingToWire, type ScanItem } from '../../src/service/shardReads.js';
import { BadInputError } from '../../src/errors.js';
import { MemoryStore } from '../../src/storage/memoryStore.js';

const DIM = 4;

async function openEngine(): Promise<Engine> {
  const scheduler = new ManualScheduler(Date.UTC(2026, 0, 1));
  let next = 0;
  return Engine.open({
    store: new MemoryStore(),
    nodeId: 'n1',
    settings: presets.test.engine,
    limits: defaultLimitSettings,
    logger: { info: () => {}, warn: () => {}, error: () => {} },
    index: 'exact',
    now: scheduler.now,
    elapsedNow: scheduler.now,
    scheduler,
    newId: () => `id-${++next}`,
  });
}

function cluster(ids: string[]): EpisodeCluster {
  const centroid = Float32Array.from([1, 0, 0, 0]);
  return { members: ids.map((id, i) => ({ id, embedding: centroid, confidence: 0.8, whenMs: i, content: `walk ${id}`, tags: ['lake'] })), centroid, cohesion: 0.95, similarities: ids.map(() => 0.95) };
}

function storedPattern(id: string, sources: string[]): MemoryRecord {
  return { id, kind: 'PATTERN', pattern: { sourceEpisodes: sources, strength: 0.5, cohesion: 0.9, lastConsolidated: 0 } } as unknown as MemoryRecord;
}

describe('covers', () => {
  const ids = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 12 });

  it('coversEverySubsetOfAPatternsSources_andNoDisjointCluster', () => {
    fc.assert(
      fc.property(ids, fc.integer({ min: 1, max: 12 }), (sources, n) => {
        expect(covers(sources, sources.slice(0, Math.min(n, sources.length)))).toBe(true);
        expect(covers(sources, sources.map((s) => `${s}-other`))).toBe(false);
      }),
    );
  });

  it('coversAClusterOverlappingMoreThanHalf_byJaccard', () => {
    expect(covers(['a', 'b', 'c'], ['a', 'b', 'c', 'd'])).toBe(true);
    expect(covers(['a', 'b'], ['a', 'b', 'c', 'd'])).toBe(false);
  });
});

describe('planPatterns', () => {
  it('keepsAStoredPatternsId_forAClusterInsideIt_andDerivesNewIdsFromTheSources', () => {
    const plans = planPatterns([cluster(['e1', 'e2', 'e3']), cluster(['f3', 'f1', 'f2'])], [storedPattern('pattern-old', ['e1', 'e2', 'e3', 'e4', 'e5', 'e6'])], 8);
    expect(plans[0]!.id).toBe('pattern-old');
    expect(plans[1]!.id).toBe(patternId(['f1', 'f2', 'f3']));
    expect(plans[1]!.sources).toEqual(['f1', 'f2', 'f3']);
    expect(plans[1]!.links.map((l) => l.to)).toEqual(['f3', 'f1', 'f2']);
    expect(plans[1]!.content).toMatch(/^Pattern of 3 episodes/);
  });
});

describe('Engine.writePatterns', () => {
  it('writesEachPlanOnce_buildsASecondPlanForTheSamePatternOnTheFirst_andChangesNothingOnARepeat', async () => {
    const engine = await openEngine();
    await engine.createSpace('sss', DIM, 1);
    const [a, b] = planPatterns([cluster(['e1', 'e2', 'e3']), cluster(['e4', 'e5', 'e6'])], [], 8);
    const first = await engine.writePatterns('sss', [a!, { ...b!, id: a!.id }]);
    expect(first.map((o) => [o.created, o.changed])).toEqual([
      [true, true],
      [false, true],
    ]);
    const stored = await engine.getMemory('sss', a!.id);
    expect(stored?.pattern?.sourceEpisodes).toEqual(['e1', 'e2', 'e3', 'e4', 'e5', 'e6']);
    const again = await engine.writePatterns('sss', [a!]);
    expect(again.map((o) => [o.created, o.changed])).toEqual([[false, false]]);
    await engine.close();
  });
});

describe('answerRead scan', () => {
  it('pagesEveryRecordOfTheShardsAskedOnce_inIdOrder_withinTheByteBound', async () => {
    const engine = await openEngine();
    const space = await engine.createSpace('sss', DIM, 3);
    for (let i = 0; i < 90; i++) await engine.rememberEpisode('sss', { id: `ep${String(i).padStart(2, '0')}`, what: `episode ${i} ${'x'.repeat(i * 7)}`, embedding: [1, i / 90, 0, 0] });
    const shards = [0, 2];
    const limits = { readBatchIds: 16, messageBytes: 4000 };
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 100; page++) {
      const reply = (await answerRead(engine, { space: 'sss', kind: 'scan', shards, memoryKind: 'EPISODE', after, withEmbeddings: true, limit: 1000, maxBytes: 1_000_000 }, limits)) as { items: ScanItem[]; next: string | null };
      expect(reply.items.length).toBeLessThanOrEqual(16);
      // Over the bound only when one record alone is larger.
      if (reply.items.length > 1) expect(Buffer.byteLength(JSON.stringify(reply.items))).toBeLessThanOrEqual(limits.messageBytes + reply.items.length + 2);
      for (const [record, embedding] of reply.items) {
        seen.push(record.id);
        expect(embedding).not.toBeNull();
      }
      after = reply.next;
      if (after === null) break;
    }
    expect(after).toBeNull();
    const expected = Array.from({ length: 90 }, (_, i) => `ep${String(i).padStart(2, '0')}`).filter((id) => shards.includes(space.shardOf(id)));
    expect(seen).toEqual(expected);
    await engine.close();
  });

  it('refusesAnUnknownKindOrCursor', async () => {
    const engine = await openEngine();
    await engine.createSpace('sss', DIM, 1);
    const limits = { readBatchIds: 16, messageBytes: 4000 };
    await expect(answerRead(engine, { space: 'sss', kind: 'scan', shards: [0], memoryKind: 'SECRET', limit: 1, maxBytes: 10 }, limits)).rejects.toBeInstanceOf(BadInputError);
    await expect(answerRead(engine, { space: 'sss', kind: 'scan', shards: [0], memoryKind: 'EPISODE', after: 7 as unknown as string, limit: 1, maxBytes: 10 }, limits)).rejects.toBeInstanceOf(BadInputError);
    await engine.close();
  });
});

describe('plansFromWire', () => {
  const plan = planPatterns([cluster(['e1', 'e2', 'e3'])], [], 8)[0]!;
  const wire = { ...plan, centroid: embeddingToWire(plan.centroid) };

  it('acceptsAPlanAsSent', () => {
    const [back] = plansFromWire([wire], DIM, 65);
    expect({ ...back!, centroid: Array.from(back!.centroid) }).toEqual({ ...plan, centroid: Array.from(plan.centroid) } as unknown as PatternPlan);
  });

  it.each([
    ['not a list', { plans: 'x' }],
    ['no id', { plans: [{ ...wire, id: 3 }] }],
    ['a centroid of another dimension', { plans: [{ ...wire, centroid: embeddingToWire(Float32Array.from([1, 0])) }] }],
    ['a weight above 1', { plans: [{ ...wire, links: [{ to: 'e1', weight: 2 }] }] }],
    ['too many links', { plans: [{ ...wire, links: Array.from({ length: 70 }, (_, i) => ({ to: `e${i}`, weight: 0.5 })) }] }],
    ['a confidence out of range', { plans: [{ ...wire, confidence: -1 }] }],
    ['sources that are not strings', { plans: [{ ...wire, sources: [1, 2] }] }],
  ])('refuses %s', (_name, body) => {
    expect(() => plansFromWire(body.plans, DIM, 65)).toThrow(BadInputError);
  });
});
