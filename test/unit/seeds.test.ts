// Seed parsing and DNS SRV resolution (with an injected resolver).
import { describe, expect, it } from 'vitest';
import { parseSeeds, resolveSrvSeeds } from '../../cluster/membership/seeds.js';

describe('seeds', () => {
  it('parseSeeds_separatesNodeIdsFromSrvNames', () => {
    expect(parseSeeds(['n1', ' dns+srv:_engram._tcp.engram.default.svc ', '', 'n2'])).toEqual({ nodes: ['n1', 'n2'], srvNames: ['_engram._tcp.engram.default.svc'] });
    expect(() => parseSeeds(['dns+srv:'])).toThrow(RangeError);
  });

  it('resolveSrvSeeds_returnsTheFirstLabelOfEachTarget_bestPriorityFirst', async () => {
    const resolver = async () => [
      { name: 'engram-2.engram.default.svc.cluster.local', priority: 10, weight: 5 },
      { name: 'engram-0.engram.default.svc.cluster.local', priority: 0, weight: 5 },
      { name: 'engram-1.engram.default.svc.cluster.local', priority: 10, weight: 50 },
      { name: 'engram-0.engram.default.svc.cluster.local', priority: 20, weight: 5 },
      { name: 'bad label!.example', priority: 0, weight: 0 },
    ];
    expect(await resolveSrvSeeds('_engram._tcp', resolver)).toEqual(['engram-0', 'engram-1', 'engram-2']);
  });

  it('resolveSrvSeeds_passesLookupFailuresToTheCaller', async () => {
    await expect(resolveSrvSeeds('missing', async () => Promise.reject(new Error('ENOTFOUND')))).rejects.toThrow('ENOTFOUND');
  });
});
