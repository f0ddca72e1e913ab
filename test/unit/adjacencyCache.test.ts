// The adjacency cache holds each memory's strongest associations and must never keep a
// list older than a write it has seen.
import { describe, expect, it } from 'vitest';
import { AdjacencyCache } from '../../src/engine/spaceReader.js';

describe('AdjacencyCache', () => {
  it('addEdge_onACachedList_keepsTheStrongestUpToTheLimit', () => {
    const cache = new AdjacencyCache(10);
    cache.set('a', [
      { to: 'x', weight: 0.9 },
      { to: 'y', weight: 0.8 },
    ]);
    cache.addEdge('a', { to: 'z', weight: 0.85 }, 2);
    expect(cache.get('a')).toEqual([
      { to: 'x', weight: 0.9 },
      { to: 'z', weight: 0.85 },
    ]);
    cache.addEdge('a', { to: 'x', weight: 0.1 }, 2);
    expect(cache.get('a')).toEqual([
      { to: 'z', weight: 0.85 },
      { to: 'x', weight: 0.1 },
    ]);
  });

  it('addEdge_onAnUncachedList_cachesNothing', () => {
    const cache = new AdjacencyCache(10);
    cache.addEdge('a', { to: 'z', weight: 0.85 }, 2);
    expect(cache.get('a')).toBeUndefined();
  });

  it('endRead_whenTheKeyChangedDuringTheRead_doesNotCacheTheOlderList', () => {
    const cache = new AdjacencyCache(10);
    cache.beginRead('a');
    cache.addEdge('a', { to: 'new', weight: 0.9 }, 4);
    cache.endRead('a', [{ to: 'old', weight: 0.5 }]);
    expect(cache.get('a')).toBeUndefined();
    // A later read with no write in between is cached.
    cache.beginRead('a');
    cache.endRead('a', [{ to: 'new', weight: 0.9 }]);
    expect(cache.get('a')).toEqual([{ to: 'new', weight: 0.9 }]);
  });

  it('endRead_withOverlappingReads_staysStaleUntilBothEnd', () => {
    const cache = new AdjacencyCache(10);
    cache.beginRead('a');
    cache.beginRead('a');
    cache.invalidate('a');
    cache.endRead('a', [{ to: 'old', weight: 0.5 }]);
    cache.endRead('a', [{ to: 'old', weight: 0.5 }]);
    expect(cache.get('a')).toBeUndefined();
  });

  it('endRead_ofAFailedRead_cachesNothing', () => {
    const cache = new AdjacencyCache(10);
    cache.beginRead('a');
    cache.endRead('a', undefined);
    expect(cache.get('a')).toBeUndefined();
  });

  it('set_beyondCapacity_evictsTheLeastRecentlyUsed', () => {
    const cache = new AdjacencyCache(2);
    cache.set('a', []);
    cache.set('b', []);
    cache.get('a');
    cache.set('c', []);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toEqual([]);
    expect(cache.size).toBe(2);
  });
});
