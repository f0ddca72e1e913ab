// The pure parts of a chaos run: the seed's fault schedule, the command's flags, the
// schema features the queries adapt to, and the canonical form reads are compared in.
import { describe, expect, it } from 'vitest';
import { parseChaosFlags } from '../../cluster/chaos/chaosCli.js';
import { nemesisSchedule } from '../../cluster/chaos/chaosNemesis.js';
import { memoryFields, typeHasField, type MemoryVersionView } from '../../cluster/chaos/chaosQueries.js';
import { memoryFingerprint } from '../../cluster/chaos/convergenceProbe.js';
import { SeededRandom } from '../../cluster/sim/random.js';

const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];

describe('nemesisSchedule', () => {
  it('isAFunctionOfTheSeed_andDiffersBetweenSeeds', () => {
    const a = nemesisSchedule(['partition', 'kill', 'pause'], nodes, 3, new SeededRandom(5), 60_000);
    const b = nemesisSchedule(['partition', 'kill', 'pause'], nodes, 3, new SeededRandom(5), 60_000);
    const c = nemesisSchedule(['partition', 'kill', 'pause'], nodes, 3, new SeededRandom(6), 60_000);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('keepsFaultsApart_insideThePhase_andOnlyOfTheChosenKinds', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const faults = nemesisSchedule(['partition', 'pause'], nodes, 2, new SeededRandom(seed), 30_000);
      expect(faults.length).toBeGreaterThan(0);
      let previousEnd = 0;
      for (const fault of faults) {
        expect(['partition', 'pause']).toContain(fault.kind);
        expect(fault.atMs).toBeGreaterThanOrEqual(previousEnd + (previousEnd === 0 ? 0 : 1000));
        expect(fault.atMs + fault.durationMs).toBeLessThanOrEqual(30_000);
        expect(fault.shard).toBeLessThan(2);
        previousEnd = fault.atMs + fault.durationMs;
      }
    }
  });

  it('split_isAMajorityAndAMinorityCoveringEveryNode', () => {
    const splits = Array.from({ length: 30 }, (_, seed) => nemesisSchedule(['partition'], nodes, 1, new SeededRandom(seed), 60_000))
      .flat()
      .filter((fault) => fault.variant === 'split');
    expect(splits.length).toBeGreaterThan(0);
    for (const { groups } of splits) {
      expect(groups!.map((group) => group.length)).toEqual([3, 2]);
      expect(groups!.flat().sort()).toEqual(nodes);
    }
  });
});

describe('parseChaosFlags', () => {
  it('takesTheDefaults_andExpandsAll', () => {
    const options = parseChaosFlags(['--seed', '4']);
    expect(options).toMatchObject({ seed: 4, nodes: 3, durationS: 60, nemesis: ['partition', 'kill', 'pause'], json: false });
    expect(parseChaosFlags(['--seed=4', '--nemesis', 'pause,partition', '--nodes', '5', '--json', '--duration-s', '20'])).toMatchObject({ nodes: 5, nemesis: ['partition', 'pause'], json: true, durationS: 20 });
    expect(parseChaosFlags(['--seed', '1', '--nemesis', 'kill,all']).nemesis).toEqual(['partition', 'kill', 'pause']);
  });

  it('refusesAMissingSeed_anUnknownNemesis_orAnotherClusterSize', () => {
    expect(() => parseChaosFlags([])).toThrow(/--seed is required/);
    expect(() => parseChaosFlags(['--seed', '1', '--nemesis', 'flood'])).toThrow(/--nemesis must be one of/);
    expect(() => parseChaosFlags(['--seed', '1', '--nodes', '4'])).toThrow(/--nodes must be one of 3, 5/);
    expect(() => parseChaosFlags(['--seed', '1', '--bogus'])).toThrow(/unknown argument/);
  });
});

describe('typeHasField', () => {
  const sdl = `
"""
A memory. Its conflicts: are described here, which is not a field.
"""
type Memory {
  id: ID!
  "Vector clock"
  version: JSON!
}
input WriteOptions { consistency: WriteConsistency, requestId: ID }
extend type Memory {
  conflicts: [MemoryVersion!]!
}`;

  it('findsFieldsOfTypesInputsAndExtensions_butNotWordsInDescriptions', () => {
    expect(typeHasField(sdl, 'Memory', 'version')).toBe(true);
    expect(typeHasField(sdl, 'Memory', 'conflicts')).toBe(true);
    expect(typeHasField(sdl.replace(/extend type Memory \{[^}]*\}/, ''), 'Memory', 'conflicts')).toBe(false);
    expect(typeHasField(sdl, 'WriteOptions', 'requestId')).toBe(true);
    expect(typeHasField(sdl, 'ShardReplication', 'digest')).toBe(false);
  });

  it('asksForConflictsOnlyWhenTheSchemaHasThem', () => {
    const without = { conflicts: false, versionWriteId: false, requestId: false, replicationDigest: false };
    expect(memoryFields(without)).toBe('id content version');
    expect(memoryFields({ ...without, conflicts: true })).toContain('conflicts { content confidence version node }');
  });
});

describe('memoryFingerprint', () => {
  it('ignoresTheOrderOfClockEntriesAndSiblings_butNotTheirValues', () => {
    const base = { id: 'a', content: 'x', version: { n1: 2, n2: 1 } };
    const siblings: MemoryVersionView[] = [
      { content: 'p', confidence: 1, version: { n1: 1 }, node: 'n1' },
      { content: 'q', confidence: 1, version: { n2: 1 }, node: 'n2' },
    ];
    expect(memoryFingerprint({ ...base, version: { n2: 1, n1: 2 } })).toBe(memoryFingerprint(base));
    expect(memoryFingerprint({ ...base, conflicts: siblings })).toBe(memoryFingerprint({ ...base, conflicts: [...siblings].reverse() }));
    expect(memoryFingerprint({ ...base, version: { n1: 3, n2: 1 } })).not.toBe(memoryFingerprint(base));
    expect(memoryFingerprint(null)).toBe('absent');
  });
});
