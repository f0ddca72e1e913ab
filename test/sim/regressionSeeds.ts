// Every seed of the whole-cluster simulation that ever failed, with what it found. `npm test`
// replays each one (test/sim/clusterRegression.test.ts); a new failing seed is added here
// together with its fix, so a bug the simulator found can never come back unnoticed.

import type { ClusterSimulationOptions } from '../../cluster/sim/clusterSimulation.js';

export interface RegressionSeed {
  options: ClusterSimulationOptions;
  found: string;
}

export const regressionSeeds: readonly RegressionSeed[] = [
  {
    options: { seed: 3, scenario: 'split' },
    found: 'every node logs the space creation at sequence 1, which a claim took for data: a node with no copy of an RF 1 shard took it over empty on the minority side',
  },
  {
    options: { seed: 1, scenario: 'split' },
    found: 'a copy that placement no longer names (the other side\'s primary) was never contacted, so its writes were never merged back',
  },
  {
    options: { seed: 5, scenario: 'split' },
    found: 'QUORUM counted acknowledgements from any live replica, so both sides of a split gathered a "majority" of copies with disjoint nodes',
  },
  {
    options: { seed: 9, scenario: 'split' },
    found: 'a merge whose only change was the version clock was judged unchanged and never written, dropping the cut-off write; and a new primary reused the versions of its own cut-off writes',
  },
  {
    options: { seed: 9, scenario: 'split' },
    found: 'the hand-back count was decremented twice for records a claimant and the worker both merged, so the worker stopped with records still waiting',
  },
  {
    options: { seed: 25 },
    found: 'a probe (an append with no entries) let a replica report divergent entries past prevSeq as held: an ALL write was acknowledged with one real copy',
  },
  {
    options: { seed: 83 },
    found: 'final reads began while client operations were still in flight (harness)',
  },
  {
    options: { seed: 92 },
    found: 'an orphaned copy with a higher epoch than the primary skipped reconciliation and kept its writes forever',
  },
  {
    options: { seed: 93 },
    found: 'flapping links: writes of a short-lived primary were lost until orphaned copies reconciled whatever the primary\'s epoch',
  },
  {
    options: { seed: 1078 },
    found: 'every client was stuck on a paused node for its 10 s timeout, longer than the 5 s liveness window (harness: shorter client timeout, longer window)',
  },
  {
    options: { seed: 1276 },
    found: 'a hand-back merge finishing late deleted the record a second cut at the same position had just written under the same key',
  },
  {
    options: { seed: 16 },
    found: 'a recall right after a space was created came back partial: a shard before its first claim refused and was not asked again (refusals for now are retried within the deadline)',
  },
  {
    options: { seed: 40 },
    found: 'retried link searches held the write queue that a fence on the same space drained, so a shard went seconds without a primary (the write path\'s link search is never retried)',
  },
  {
    options: { seed: 116 },
    found: 'a replica that had never caught up answered a stale read for a shard it did not hold (a stale answer needs a copy that was once current)',
  },
  {
    options: { seed: 1178 },
    found: 'partial-result checker: shards missing after the heal while membership views were still re-forming (the quiet window starts once every view is whole)',
  },
  {
    options: { seed: 1121 },
    found: 'a second cut at the same log position, after a source\'s entries had replaced the memory, overwrote the first cut\'s hand-back and lost an acknowledged ONE write (two cuts now hand back the join of both states)',
  },
  {
    options: { seed: 5, scenario: 'damage' },
    found: 'partial-result checker: a hedged recall answered by a current replica missed a ONE write acknowledged within the lag bound (only ALL writes, or older ones, are judged)',
  },
  {
    options: { seed: 2011, scenario: 'damage' },
    found: 'a memory whose record was lost behind the engine and written again kept its old vector in the index under its old label, so a search found it twice and ranked it at the old similarity: a complete local recall missed it (re-indexing now drops the old label)',
  },
  {
    options: { seed: 3077, scenario: 'drain' },
    found: 'under-replication checker: ALL writes acknowledged by the two nodes left after a drain were judged against three copies (a drained node leaves the configured copies until every node places shards on it again, and a write is held to the weaker promise of its start and end)',
  },
  {
    options: { seed: 3085, scenario: 'drain' },
    found: 'under-replication checker: an ALL write begun while a drained node was out and acknowledged just after every node placed shards on it again was judged against three copies',
  },
];
