// The cluster transport over NATS with mutual TLS and one certificate per node, as
// docs/security.md ("Cluster transport: TLS and credentials") tells an operator to set it up:
// the server trusts one CA, requires a client certificate (verify_and_map) and maps each
// certificate's subject to a user whose permissions cover only that node's subjects.
//
// Real processes on a real nats-server. Two nodes with their own certificates join and
// replicate. Then every way in without a valid credential is refused: no client
// certificate, a certificate from another CA, a certificate the server maps to no user, a
// client whose user is not allowed on the cluster's subjects, and a node's certificate used
// to take another node's subjects. The two nodes never list anyone else as a member.
//
// The second part covers the other credential a node can carry: a user and password (or a
// token) in ENGRAM_NATS_URL, which nats.js ignores and NatsTransport therefore passes on.
//
// Keys and certificates are made at test time with openssl (test/support/natsTls.ts). The
// suites skip, saying why, only where openssl or nats-server is missing.

import type { ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, PermissionViolationError, type NatsConnection, type Status } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allAlive, eventually, gqlData, Harness, memberStates } from '../support/node.js';
import { natsServerBinary, startNatsServer, type NatsServer } from '../support/natsServer.js';
import {
  createCertificateAuthority,
  engramNodePermissions,
  issueCertificate,
  natsTlsServerConfig,
  opensslBinary,
  type CertificateAuthority,
  type CertificateRequest,
  type IssuedCertificate,
} from '../support/natsTls.js';
import { NatsConnectError, NatsTransport, splitUrlCredentials } from '../../cluster/transport/natsTransport.js';
import { broadcastSubject, nodeSubject, services } from '../../cluster/transport/subjects.js';

function missingTools(): string[] {
  const missing: string[] = [];
  if (opensslBinary() === undefined) missing.push('openssl');
  try {
    if (!existsSync(natsServerBinary())) throw new Error('NATS_SERVER_BIN names no file');
  } catch {
    missing.push('nats-server (or NATS_SERVER_BIN)');
  }
  return missing;
}
const missing = missingTools();
if (missing.length > 0) console.warn(`natsTls.test.ts skipped: ${missing.join(' and ')} not found`);

const harness = new Harness();
const cluster = `tls${process.pid}`;
/** Certificate subjects carry this unit, so they cannot be confused with another deployment's. */
const UNIT = 'engram-tls-test';
const MEMBERS = ['node-a', 'node-b'];

let nats: NatsServer;
let authority: CertificateAuthority;
const certificates: Record<string, IssuedCertificate> = {};
const nodes: { id: string; url: string; child: ChildProcess }[] = [];
const clients: NatsConnection[] = [];

/** The environment that points a node at the TLS server with `certificate` (or with none). */
function nodeEnv(id: string, certificate: IssuedCertificate | undefined): Record<string, string> {
  return {
    ENGRAM_NATS_URL: nats.url,
    ENGRAM_NODE_ID: id,
    ENGRAM_CLUSTER: cluster,
    ENGRAM_SETTLE_MS: '1000',
    ENGRAM_NATS_TLS_CA: authority.certFile,
    ...(certificate === undefined ? {} : { ENGRAM_NATS_TLS_CERT: certificate.certFile, ENGRAM_NATS_TLS_KEY: certificate.keyFile }),
  };
}

/** A raw NATS client with `certificate`, to act where no Engram node would. */
async function rawClient(certificate: IssuedCertificate): Promise<{ connection: NatsConnection; errors: Error[] }> {
  const connection = await connect({ servers: [nats.url], name: 'raw', timeout: 5000, tls: { caFile: authority.certFile, certFile: certificate.certFile, keyFile: certificate.keyFile } });
  clients.push(connection);
  const errors: Error[] = [];
  void (async () => {
    for await (const status of connection.status() as AsyncIterable<Status>) {
      if (status.type === 'error') errors.push(status.error);
    }
  })();
  return { connection, errors };
}

/** Resolves with how a spawned node ended: it must exit before it says it is ready. */
async function refusedStart(env: Record<string, string>): Promise<string> {
  const outcome = await harness.spawnNode(harness.directory(), env).then(
    () => 'ready',
    (error: Error) => error.message,
  );
  expect(outcome).not.toBe('ready');
  return outcome;
}

beforeAll(async () => {
  if (missing.length > 0) return;
  const directory = harness.directory();
  authority = await createCertificateAuthority(directory, 'engram-ca');
  const stranger = await createCertificateAuthority(directory, 'stranger-ca');
  const requests: [CertificateAuthority, CertificateRequest][] = [
    [authority, { name: 'nats-server', commonName: 'nats-server', usage: 'server', subjectAltNames: ['IP:127.0.0.1', 'DNS:localhost'] }],
    ...MEMBERS.map((id): [CertificateAuthority, CertificateRequest] => [authority, { name: id, commonName: id, organizationalUnit: UNIT, usage: 'client' }]),
    [authority, { name: 'intruder', commonName: 'intruder', organizationalUnit: UNIT, usage: 'client' }],
    [authority, { name: 'unmapped', commonName: 'node-c', organizationalUnit: 'someone-else', usage: 'client' }],
    // A member's subject, signed by a CA the server does not trust.
    [stranger, { name: 'forged-node-b', commonName: 'node-b', organizationalUnit: UNIT, usage: 'client' }],
  ];
  const issued = await Promise.all(requests.map(([ca, request]) => issueCertificate(directory, ca, request)));
  requests.forEach(([, request], index) => (certificates[request.name] = issued[index]!));
  const configFile = join(directory, 'nats-server.conf');
  writeFileSync(
    configFile,
    natsTlsServerConfig({
      authority,
      server: certificates['nats-server']!,
      users: [
        ...MEMBERS.map((id) => ({ user: certificates[id]!.subject, ...engramNodePermissions(cluster, id) })),
        // A valid certificate whose user may use its own subjects, none of the cluster's.
        { user: certificates['intruder']!.subject, publish: ['intruder.>'], subscribe: ['intruder.>', '_INBOX.>'] },
      ],
    }),
  );
  nats = await startNatsServer(['-c', configFile]);
  nodes.push(...(await Promise.all(MEMBERS.map(async (id) => ({ id, ...(await harness.spawnNode(harness.directory(), nodeEnv(id, certificates[id]))) })))));
  await allAlive(nodes.map((node) => node.url), MEMBERS, 20_000);
}, 45_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((client) => client.close()));
  await harness.cleanup();
  await nats?.stop();
});

describe.skipIf(missing.length > 0)('a cluster on NATS with mutual TLS and a certificate per node', () => {
  it('joinsAndReplicates_withEachNodeOnItsOwnCertificate', async () => {
    const [a, b] = nodes;
    await gqlData(a!.url, 'mutation { createSpace(id: "tls", dimension: 4, shards: 2) { id } }');
    for (const [writer, reader] of [
      [a!, b!],
      [b!, a!],
    ] as const) {
      const id = `from-${writer.id}`;
      // ALL: acknowledged once both nodes hold the write, so it crossed NATS over TLS.
      await eventually(10_000, () => gqlData(writer.url, 'mutation($id: ID!) { remember(space: "tls", memory: { id: $id, content: "over TLS", embedding: [1, 0, 0, 0] }, options: { consistency: ALL }) { id } }', { id }));
      await eventually(10_000, async () => {
        const { memory } = await gqlData(reader.url, 'query($id: ID!) { memory(space: "tls", id: $id) { id content } }', { id });
        expect(memory).toEqual({ id, content: 'over TLS' });
      });
    }
  });

  // Each start waits out the 5 s connection timeout, so the three run side by side.
  describe.concurrent('a node that is refused at start', () => {
    // nats.js reports a certificate the server refused as a timeout; NatsConnectError says what it likely means.
    const certificateRefused = /NatsConnectError: could not connect to NATS at nats:\/\/127\.0\.0\.1:\d+ \(TimeoutError: timeout\): no answer within 5000 ms\. A server that requires client certificates/;

    it('exitsWithoutJoining_withoutAClientCertificate', async () => {
      const outcome = await refusedStart(nodeEnv('node-c', undefined));
      expect(outcome).toMatch(/node exited early \(1\)/);
      expect(outcome).toMatch(certificateRefused);
    });

    it('exitsWithoutJoining_whenItsCertificateIsSignedByAnotherCa', async () => {
      const outcome = await refusedStart(nodeEnv('node-b', certificates['forged-node-b']));
      expect(outcome).toMatch(/node exited early \(1\)/);
      expect(outcome).toMatch(certificateRefused);
    });

    it('exitsWithoutJoining_whenItsCertificateMapsToNoUser', async () => {
      const outcome = await refusedStart(nodeEnv('node-c', certificates['unmapped']));
      expect(outcome).toMatch(/node exited early \(1\)/);
      expect(outcome).toMatch(/could not connect to NATS at .*\(AuthorizationError: Authorization Violation\): the server refused this client's credentials/);
    });
  });

  it('refusesAClient_withAValidCertificate_onTheClusterSubjects', async () => {
    const { connection, errors } = await rawClient(certificates['intruder']!);
    const rpc = nodeSubject(cluster, services.rpc, 'node-a');
    const join = broadcastSubject(cluster, services.discovery);
    connection.publish(rpc, new TextEncoder().encode(JSON.stringify({ op: 'op.memory', body: { space: 'tls', id: 'from-node-a' } })));
    connection.publish(join, new TextEncoder().encode(JSON.stringify({ node: 'intruder' })));
    const subscription = connection.subscribe(`${cluster}.>`);
    await connection.flush();
    await eventually(5000, async () => {
      const refused = errors.filter((error) => error instanceof PermissionViolationError).map((error) => `${(error as PermissionViolationError).operation} ${(error as PermissionViolationError).subject}`);
      expect(refused).toEqual(expect.arrayContaining([`publish ${rpc}`, `publish ${join}`, `subscription ${cluster}.>`]));
    });
    expect(await subscription.closed).toBeInstanceOf(PermissionViolationError);
  });

  it('refusesANodeCertificate_onAnotherNodesSubjects', async () => {
    const { connection } = await rawClient(certificates['node-a']!);
    const subscription = connection.subscribe(nodeSubject(cluster, services.rpc, 'node-b'));
    await connection.flush();
    const closed = await subscription.closed;
    expect(closed).toBeInstanceOf(PermissionViolationError);
    expect((closed as PermissionViolationError).operation).toBe('subscription');
  });

  it('neverListsAnyoneButTheMembers', async () => {
    for (const node of nodes) {
      const seen = await memberStates(node.url);
      expect(Object.keys(seen).sort()).toEqual(MEMBERS);
      expect(Object.values(seen)).toEqual(['ALIVE', 'ALIVE']);
    }
  });
});

describe.skipIf(missing.length > 0)('credentials in ENGRAM_NATS_URL', () => {
  const USER = 'engram';
  // Characters that must be percent-encoded in a URL, and a leading digit that nats.js would read as a port.
  const PASSWORD = '4222:p@ss/w0rd';
  let guarded: NatsServer;
  const urlWith = (password: string) => `nats://${USER}:${encodeURIComponent(password)}@127.0.0.1:${guarded.port}`;

  beforeAll(async () => {
    guarded = await startNatsServer(['--user', USER, '--pass', PASSWORD]);
  });
  afterAll(async () => {
    await guarded?.stop();
  });

  it('splitUrlCredentials_takesUserPasswordOrTokenOutOfTheUrl', () => {
    expect(splitUrlCredentials('nats://u:p%40ss@127.0.0.1:4222')).toEqual({ server: 'nats://127.0.0.1:4222', credentials: { user: 'u', pass: 'p@ss' } });
    expect(splitUrlCredentials('tls://s3cret@nats.example:4222')).toEqual({ server: 'tls://nats.example:4222', credentials: { token: 's3cret' } });
    expect(splitUrlCredentials('127.0.0.1:4222')).toEqual({ server: '127.0.0.1:4222', credentials: {} });
  });

  it('startsANode_withTheUserAndPasswordInItsUrl', async () => {
    const { child } = await harness.spawnNode(harness.directory(), { ENGRAM_NATS_URL: urlWith(PASSWORD), ENGRAM_NODE_ID: 'url-creds', ENGRAM_CLUSTER: `${cluster}u` });
    child.kill('SIGKILL');
  });

  it('refusesAWrongPassword_withAnErrorThatDoesNotShowIt', async () => {
    const attempt = NatsTransport.connect({ servers: [urlWith('wrong-password')], name: 'url-creds-bad' });
    const error = await attempt.then(
      (transport) => transport.close().then(() => undefined),
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(NatsConnectError);
    expect((error as Error).message).toMatch(/AuthorizationError: Authorization Violation\): the server refused this client's credentials/);
    expect((error as Error).message).not.toContain('wrong-password');
  });
});
