// `npm run drain -- --url URL [--node ID] [--key KEY | --key-file FILE]`: drains a node
// (the one at URL unless --node names another member) and waits until it has handed its
// shards off and stopped. Exits 0 when every shard that could move moved, 3 when the bound
// ran out first, 1 on an error.

import { adminRequest, parseAdminFlags, runCommand } from './adminClient.js';

const USAGE = 'usage: npm run drain -- --url http://host:port [--node ID] [--key KEY | --key-file FILE]';

interface Drained {
  node: string;
  shardsMoved: number;
  shardsNotMoved: number;
  timedOut: boolean;
  elapsedMs: number;
}

runCommand(async () => {
  let node: string | undefined;
  const target = parseAdminFlags(process.argv.slice(2), USAGE, (flag, value) => {
    if (flag !== '--node') return false;
    node = value();
    return true;
  });
  node ??= (await adminRequest<{ cluster: { self: { id: string } } }>(target, '{ cluster { self { id } } }')).cluster.self.id;
  process.stderr.write(`draining ${node} through ${target.url}\n`);
  const { drain } = await adminRequest<{ drain: Drained | null }>(target, 'mutation($node: ID!) { drain(node: $node) { node shardsMoved shardsNotMoved timedOut elapsedMs } }', { node });
  if (drain === null) throw new Error('the drain answered no result');
  process.stdout.write(`${JSON.stringify(drain)}\n`);
  process.stderr.write(`${drain.node}: ${drain.shardsMoved} shards handed off, ${drain.shardsNotMoved} not, in ${Math.round(drain.elapsedMs)} ms${drain.timedOut ? ' (the bound ran out)' : ''}; the node is stopping\n`);
  if (drain.timedOut) process.exit(3);
});
