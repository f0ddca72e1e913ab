// SWIM with Lifeguard at scale in the simulator: detection time, false positives under
// loss, flat message load, and exact replay of a seed.
import { describe, expect, it } from 'vitest';
import { runMembershipSimulation } from '../../cluster/sim/membershipSimulation.js';

describe('membership simulation', () => {
  it('hundredNodes_tenPercentCrashed_detectedWithMeanUnder1sAndP99Under2s', async () => {
    const result = await runMembershipSimulation({ nodes: 100, seed: 42, durationMs: 30_000, killFraction: 0.1 });
    console.log(`100 nodes: detection mean ${result.detectionMeanMs.toFixed(0)} ms, p99 ${result.detectionP99Ms.toFixed(0)} ms, wall ${result.wallMs.toFixed(0)} ms`);
    expect(result.undetected).toBe(0);
    expect(result.falsePositives).toBe(0);
    expect(result.detectionMeanMs).toBeLessThan(1000);
    expect(result.detectionP99Ms).toBeLessThan(2000);
    expect(result.convergenceMs).toBeLessThan(5000);
  }, 60_000);

  it('fivePercentLoss_noFalsePositives_andEveryCrashStillDetected', async () => {
    for (const seed of [1, 2, 3]) {
      const result = await runMembershipSimulation({ nodes: 50, seed, loss: 0.05, durationMs: 30_000, killFraction: 0.1 });
      expect(result.falsePositives).toBe(0);
      expect(result.undetected).toBe(0);
    }
  }, 60_000);

  it('messagesPerNodePerSecond_stayFlatFrom20To400Nodes', async () => {
    const rates: number[] = [];
    for (const nodes of [20, 100, 400]) {
      const result = await runMembershipSimulation({ nodes, seed: 7, durationMs: 10_000, killFraction: 0 });
      expect(Number.isNaN(result.convergenceMs)).toBe(false);
      rates.push(result.msgsPerNodePerSec);
    }
    console.log(`messages per node per second at 20/100/400 nodes: ${rates.map((r) => r.toFixed(2)).join(' / ')}`);
    for (const rate of rates) expect(Math.abs(rate - rates[0]!) / rates[0]!).toBeLessThan(0.15);
  }, 120_000);

  it('theSameSeed_givesIdenticalResults', async () => {
    const { wallMs: _a, ...first } = await runMembershipSimulation({ nodes: 30, seed: 99, loss: 0.02, durationMs: 15_000 });
    const { wallMs: _b, ...second } = await runMembershipSimulation({ nodes: 30, seed: 99, loss: 0.02, durationMs: 15_000 });
    expect(second).toEqual(first);
    const { wallMs: _c, ...other } = await runMembershipSimulation({ nodes: 30, seed: 100, loss: 0.02, durationMs: 15_000 });
    expect(other).not.toEqual(first);
  }, 60_000);
});
