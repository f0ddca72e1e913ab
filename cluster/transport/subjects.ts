// Every NATS subject the cluster uses, in one place. Subjects start with the cluster name
// (ENGRAM_CLUSTER): `<cluster>.<service>.<nodeId>` addresses one node, and
// `<cluster>.<service>` reaches every node subscribed to the service.

/** Services that have subjects. Append-only: a service name is never reused. */
export const services = {
  /** SWIM probes, acks, indirect probes and piggybacked membership updates. */
  membership: 'swim',
  /** Join requests from new nodes, broadcast to every member. */
  discovery: 'join',
  /** Request/reply between node APIs. */
  rpc: 'rpc',
} as const;

// Replies to requests arrive on `<cluster>._INBOX.<random>` (NatsTransport sets the inbox prefix).

export type Service = (typeof services)[keyof typeof services];

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

function token(value: string, what: string): string {
  if (!TOKEN.test(value)) throw new RangeError(`${what} "${value}" is not a valid subject token ([A-Za-z0-9_-]{1,64})`);
  return value;
}

/** The subject that reaches one node's `service`. */
export function nodeSubject(cluster: string, service: Service, nodeId: string): string {
  return `${token(cluster, 'cluster')}.${service}.${token(nodeId, 'node id')}`;
}

/** The subject every node subscribed to `service` receives. */
export function broadcastSubject(cluster: string, service: Service): string {
  return `${token(cluster, 'cluster')}.${service}`;
}
