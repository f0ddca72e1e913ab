// Seed nodes for joining: static node ids from ENGRAM_SEEDS, and `dns+srv:NAME` entries
// resolved through DNS SRV records, as a Kubernetes headless service publishes them. An SRV
// target's first label is the node id (a StatefulSet pod's hostname, used as ENGRAM_NODE_ID).

import { promises as dns } from 'node:dns';

export interface SeedList {
  nodes: string[];
  srvNames: string[];
}

const SRV_PREFIX = 'dns+srv:';

export function parseSeeds(entries: readonly string[]): SeedList {
  const nodes: string[] = [];
  const srvNames: string[] = [];
  for (const entry of entries.map((e) => e.trim()).filter(Boolean)) {
    if (entry.startsWith(SRV_PREFIX)) {
      const name = entry.slice(SRV_PREFIX.length);
      if (name.length === 0) throw new RangeError(`"${entry}" names no DNS record`);
      srvNames.push(name);
    } else {
      nodes.push(entry);
    }
  }
  return { nodes, srvNames };
}

export type SrvResolver = (name: string) => Promise<{ name: string; priority: number; weight: number }[]>;

/** Node ids behind an SRV name, best priority first. */
export async function resolveSrvSeeds(name: string, resolve: SrvResolver = (n) => dns.resolveSrv(n)): Promise<string[]> {
  const records = await resolve(name);
  const ordered = [...records].sort((a, b) => a.priority - b.priority || b.weight - a.weight || (a.name < b.name ? -1 : 1));
  return [...new Set(ordered.map((record) => record.name.split('.')[0]!).filter((id) => /^[A-Za-z0-9_-]{1,64}$/.test(id)))];
}
