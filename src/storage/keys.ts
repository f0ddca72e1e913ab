// Key layout of the node's single RocksDB. Every key is a one-letter family followed by
// NUL-separated parts, so a family/space/record prefix is a contiguous, ordered range.
// Callers validate that ids, tags and terms never contain NUL, which keeps parts unambiguous.
//
//   N <name>                       node metadata (node id)
//   S <space>                      space definition (dimension, shards, version)
//   P <space>                      space counters written in every batch (count, next label)
//   M <space> <id>                 memory record (JSON)
//   E <space> <id>                 embedding (raw little-endian float32)
//   A <space> <from> <to>          association weight (float32)
//   T <space> <tag> <id>           tag index
//   C <space> <time:u64> <id>      time index (createdAt, or an episode's `when`)
//   W <space> <term> <id>          lexical postings (term frequency)
//   K <space> <kind> <id>          kind index (MEMORY, EPISODE, PATTERN)
//   L <space> <shard:u16> <seq:u64> operation log entry
//   R <space> <shard:u16>          replication state of a shard (epoch, epoch history)
//   I <space> <shard:u16>          a snapshot install of the shard began and has not finished
//   H <space> <shard:u16> <cut:u64> <id>  a write cut off a divergent log, until it is merged back
//   X <space> <id>                 tombstone of a deleted memory (its version set, JSON)
//   D <space> <shard:u16> <leaf:u16> <id>  anti-entropy digest of a record or tombstone
//   Y <key id>                     API key (JSON; a salted hash, never the secret)

const SEP = Buffer.from([0]);
/** Dates are stored as ms + this offset so negative (pre-1970) times still sort correctly. */
const TIME_OFFSET_MS = 2 ** 50;

type Part = string | Buffer;

function compose(family: string, parts: readonly Part[], trailingSeparator: boolean): Buffer {
  const chunks: Buffer[] = [Buffer.from(family)];
  for (const part of parts) {
    chunks.push(SEP, typeof part === 'string' ? Buffer.from(part) : part);
  }
  if (trailingSeparator) chunks.push(SEP);
  return Buffer.concat(chunks);
}

export function u64(value: number): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64BE(BigInt(value));
  return buffer;
}

export function u16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16BE(value);
  return buffer;
}

export function timeKeyPart(ms: number): Buffer {
  return u64(Math.trunc(ms) + TIME_OFFSET_MS);
}

/** The smallest key greater than every key that starts with `prefix`. */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0xff, 0xff, 0xff, 0xff]);
}

export interface PrefixRange {
  gte: Buffer;
  lt: Buffer;
}

export function prefixRange(prefix: Buffer): PrefixRange {
  return { gte: prefix, lt: prefixEnd(prefix) };
}

export const keys = {
  nodeMeta: (name: string) => compose('N', [name], false),
  space: (space: string) => compose('S', [space], false),
  allSpaces: () => prefixRange(Buffer.from('S\0')),
  spaceState: (space: string) => compose('P', [space], false),
  apiKey: (id: string) => compose('Y', [id], false),
  allApiKeys: () => prefixRange(Buffer.from('Y\0')),

  memory: (space: string, id: string) => compose('M', [space, id], false),
  memories: (space: string) => compose('M', [space], true),
  embedding: (space: string, id: string) => compose('E', [space, id], false),
  embeddings: (space: string) => compose('E', [space], true),

  association: (space: string, from: string, to: string) => compose('A', [space, from, to], false),
  associationsFrom: (space: string, from: string) => compose('A', [space, from], true),

  tag: (space: string, tag: string, id: string) => compose('T', [space, tag, id], false),
  tagged: (space: string, tag: string) => compose('T', [space, tag], true),

  time: (space: string, ms: number, id: string) => compose('C', [space, timeKeyPart(ms), id], false),
  times: (space: string) => compose('C', [space], true),
  timeBound: (space: string, ms: number) => compose('C', [space, timeKeyPart(ms)], false),

  kind: (space: string, kind: string) => compose('K', [space, kind], true),
  kindEntry: (space: string, kind: string, id: string) => compose('K', [space, kind, id], false),

  term: (space: string, term: string, id: string) => compose('W', [space, term, id], false),
  termPostings: (space: string, term: string) => compose('W', [space, term], true),

  logEntry: (space: string, shard: number, seq: number) => compose('L', [space, u16(shard), u64(seq)], false),
  log: (space: string, shard: number) => compose('L', [space, u16(shard)], true),
  replication: (space: string, shard: number) => compose('R', [space, u16(shard)], false),
  installMarker: (space: string, shard: number) => compose('I', [space, u16(shard)], false),
  /** A deleted memory's tombstone: its version set, kept so no merge or repair brings the memory back. */
  tombstone: (space: string, id: string) => compose('X', [space, id], false),
  tombstones: (space: string) => compose('X', [space], true),
  /** A record's anti-entropy digest, by shard and hash-tree leaf. */
  digest: (space: string, shard: number, leaf: number, id: string) => compose('D', [space, u16(shard), u16(leaf), id], false),
  digestLeaf: (space: string, shard: number, leaf: number) => compose('D', [space, u16(shard), u16(leaf)], true),
  digests: (space: string, shard: number) => compose('D', [space, u16(shard)], true),
  handBack: (space: string, shard: number, cutSeq: number, id: string) => compose('H', [space, u16(shard), u64(cutSeq), id], false),
  allHandBacks: () => prefixRange(Buffer.from('H\0')),
  handBacksOf: (space: string, shard: number) => prefixRange(compose('H', [space, u16(shard)], true)),
};

/** The record-id suffix of a key built as `<prefix><id>`. */
export function suffixAfter(key: Buffer, prefixLength: number): string {
  return key.subarray(prefixLength).toString();
}

/** For time-index keys: the id after `<prefix><time:u64>\0`. */
export function timeKeyId(key: Buffer, prefixLength: number): string {
  return key.subarray(prefixLength + 9).toString();
}

export function timeKeyMs(key: Buffer, prefixLength: number): number {
  return Number(key.readBigUInt64BE(prefixLength)) - TIME_OFFSET_MS;
}

/** For log keys: the sequence number in the last 8 bytes. */
export function logKeySeq(key: Buffer): number {
  return Number(key.readBigUInt64BE(key.length - 8));
}
