// The owner's own check of a forwarded or scattered request. The entry node sends the
// caller's key id in a message header; the owner looks the key up in its own copy of the
// table and checks revocation, expiry and the space again, so a key revoked on the owner
// is refused there even if the entry node has not heard of the revocation yet.
// Requests without the header are the cluster's own (replication, membership, catalog);
// NATS credentials and TLS (docs/security.md) decide who may send those at all.

import type { MessageHeaders } from '../../cluster/transport/transport.js';
import { UnauthenticatedError } from '../errors.js';
import { adminOperations } from '../../cluster/transport/operations.js';
import { Access, ADMIN_KEY_ID, identityOf, OPERATION_NEEDS } from './access.js';
import { keyState } from './keyRecord.js';
import type { KeyTable } from './keyTable.js';

/** NATS header that carries the caller's key id between nodes (never the secret). */
export const KEY_ID_HEADER = 'engram-key-id';

/** Operations on a node as a whole; the owner asks for node administration again. */
const NODE_OPERATIONS: ReadonlySet<string> = new Set(Object.values(adminOperations));

export function rpcGuard(table: KeyTable, nowMs: () => number) {
  return (op: string, body: unknown, headers: MessageHeaders): void => {
    const keyId = headers[KEY_ID_HEADER];
    const need = OPERATION_NEEDS[op];
    const nodeOperation = NODE_OPERATIONS.has(op);
    if (keyId === undefined || (need === undefined && !nodeOperation) || keyId === ADMIN_KEY_ID) return;
    const record = table.get(keyId);
    if (record === undefined) throw new UnauthenticatedError('The API key is not known to the node that owns this data', { details: { keyId } });
    const state = keyState(record, nowMs());
    if (state !== 'active') throw new UnauthenticatedError(`The API key has ${state === 'revoked' ? 'been revoked' : 'expired'}`, { details: { keyId } });
    const access = new Access(identityOf(record));
    if (nodeOperation) return access.requireNodeAdmin();
    const space = (body as { space?: unknown } | null)?.space;
    if (typeof space === 'string' && need !== undefined) access.require(space, need);
  };
}
