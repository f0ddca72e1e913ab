// The anti-entropy shell's own settings, beside the exchange core's (antiEntropySettings.ts):
// how often it ticks the core and how often it scrubs each held shard. Kept apart from the
// shell so that the config module can name them without loading the engine.

import { defaultAntiEntropySettings, type AntiEntropySettings } from './antiEntropySettings.js';

export interface AntiEntropyShellSettings extends AntiEntropySettings {
  /** Anti-entropy runs at all. Default true; off only to show, in the simulator, what it repairs. */
  enabled: boolean;
  /** How often the shell ticks the core. Default 500 ms: the core asks for a tick every 100 ms to 1 s, and due rounds start within half a second. */
  tickMs: number;
  /**
   * How often a full scrub pass over each held shard starts (re-hashing every record against
   * its digest entry). Default 600,000 ms (10 min): a pass re-reads every record, in batches
   * of SCRUB_BATCH per tick, so a 100k-record shard takes about 100 s of light reads.
   */
  scrubIntervalMs: number;
}

export const defaultAntiEntropyShellSettings: AntiEntropyShellSettings = { ...defaultAntiEntropySettings, enabled: true, tickMs: 500, scrubIntervalMs: 600_000 };

