// A throwaway PKI and nats-server configuration for NATS over mutual TLS, made at test time
// with the openssl CLI in a temporary directory, so no key is ever checked in. Keys are EC
// P-256 (prime256v1): each takes milliseconds to make, where RSA 2048 takes hundreds.
//
// Client certificates carry the node's identity in their subject (`CN=<node>,OU=<unit>`).
// The server runs with `verify_and_map`: it checks the certificate against the CA, then
// looks the subject up among its `authorization.users`, so the certificate is the
// credential and each node's user has its own permissions (docs/security.md, "Cluster
// transport: TLS and credentials").

import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { broadcastSubject, nodeSubject, services } from '../../cluster/transport/subjects.js';

const run = promisify(execFile);

/** Longest an openssl call may take. Each runs in milliseconds; this bounds a wedged process. */
const OPENSSL_TIMEOUT_MS = 10_000;
/** Certificates outlive any test run by a day, and no longer. */
const VALIDITY_DAYS = '2';

/** The openssl binary on PATH, or undefined (the TLS test then skips). */
export function opensslBinary(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v openssl'], { encoding: 'utf8' }).stdout.trim();
  return found === '' ? undefined : found;
}

export interface CertificateAuthority {
  certFile: string;
  keyFile: string;
}

export interface IssuedCertificate {
  certFile: string;
  keyFile: string;
  /** The subject as nats-server matches it against `users[].user` (RFC 2253, most specific first). */
  subject: string;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: OPENSSL_TIMEOUT_MS });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || String(error)}`, { cause: error });
  }
}

/**
 * A minimal openssl config, so the result does not depend on the system's openssl.cnf:
 * the subject comes from `dn` and the X.509v3 extensions from `ext`.
 */
function opensslConfig(subject: Record<string, string>, extensions: string[]): string {
  const names = Object.entries(subject).map(([key, value]) => `${key} = ${value}`);
  return ['[req]', 'prompt = no', 'distinguished_name = dn', '[dn]', ...names, '[ext]', ...extensions, ''].join('\n');
}

/** A self-signed CA (`CN=<name>`) that may sign certificates and nothing else. */
export async function createCertificateAuthority(directory: string, name: string): Promise<CertificateAuthority> {
  const certFile = join(directory, `${name}.pem`);
  const keyFile = join(directory, `${name}-key.pem`);
  const configFile = join(directory, `${name}.cnf`);
  writeFileSync(configFile, opensslConfig({ CN: name }, ['basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign', 'subjectKeyIdentifier = hash']));
  await openssl(['req', '-x509', '-config', configFile, '-extensions', 'ext', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', VALIDITY_DAYS]);
  return { certFile, keyFile };
}

export interface CertificateRequest {
  /** File name stem in `directory`. */
  name: string;
  /** Subject common name: the node id for a client certificate. */
  commonName: string;
  /** Subject organisational unit; omitted when undefined. */
  organizationalUnit?: string;
  /** `server` for nats-server (serverAuth), `client` for a node (clientAuth). */
  usage: 'server' | 'client';
  /** subjectAltName entries, e.g. ["IP:127.0.0.1", "DNS:localhost"]. */
  subjectAltNames?: string[];
}

/** A key and a certificate for it signed by `authority`. */
export async function issueCertificate(directory: string, authority: CertificateAuthority, request: CertificateRequest): Promise<IssuedCertificate> {
  const certFile = join(directory, `${request.name}.pem`);
  const keyFile = join(directory, `${request.name}-key.pem`);
  const requestFile = join(directory, `${request.name}.csr`);
  const configFile = join(directory, `${request.name}.cnf`);
  const extensions = [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    `extendedKeyUsage = ${request.usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
    'authorityKeyIdentifier = keyid',
    ...(request.subjectAltNames === undefined ? [] : [`subjectAltName = ${request.subjectAltNames.join(', ')}`]),
  ];
  // openssl reads the subject most general first; RFC 2253 (what NATS matches) writes it most specific first.
  const subject: Record<string, string> = { ...(request.organizationalUnit === undefined ? {} : { OU: request.organizationalUnit }), CN: request.commonName };
  writeFileSync(configFile, opensslConfig(subject, extensions));
  await openssl(['req', '-new', '-config', configFile, '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', requestFile]);
  await openssl([
    'x509', '-req', '-in', requestFile, '-CA', authority.certFile, '-CAkey', authority.keyFile,
    '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', VALIDITY_DAYS,
    '-extfile', configFile, '-extensions', 'ext', '-out', certFile,
  ]);
  const rfc2253 = [`CN=${request.commonName}`, ...(request.organizationalUnit === undefined ? [] : [`OU=${request.organizationalUnit}`])].join(',');
  return { certFile, keyFile, subject: rfc2253 };
}

export interface NatsUser {
  /** For `verify_and_map`, the certificate subject in RFC 2253 form. */
  user: string;
  publish: string[];
  subscribe: string[];
}

/**
 * What one Engram node needs on cluster `cluster`, and nothing more:
 * - subscribe: its own SWIM and RPC subjects, the join broadcast, and the cluster's reply
 *   inboxes (NatsTransport's inbox prefix is `<cluster>._INBOX`);
 * - publish: any node's SWIM and RPC subjects, the join broadcast, and replies to inboxes.
 * Another node's id on a certificate therefore cannot receive that node's requests.
 */
export function engramNodePermissions(cluster: string, nodeId: string): { publish: string[]; subscribe: string[] } {
  const inboxes = `${cluster}._INBOX.>`;
  const join = broadcastSubject(cluster, services.discovery);
  return {
    publish: [`${cluster}.${services.membership}.*`, `${cluster}.${services.rpc}.*`, join, inboxes],
    subscribe: [nodeSubject(cluster, services.membership, nodeId), nodeSubject(cluster, services.rpc, nodeId), join, inboxes],
  };
}

export interface NatsTlsServerConfig {
  authority: CertificateAuthority;
  server: IssuedCertificate;
  users: NatsUser[];
  /** TLS handshake timeout in seconds. Default 2, written out so a loaded 2-core machine does not depend on the server version's default. */
  handshakeTimeoutS?: number;
}

const quoted = (value: string) => JSON.stringify(value);
const list = (values: string[]) => `[${values.map(quoted).join(', ')}]`;

/** nats-server configuration text: mutual TLS required, client certificates mapped to users. */
export function natsTlsServerConfig(config: NatsTlsServerConfig): string {
  const users = config.users.map((user) => `    { user: ${quoted(user.user)}, permissions: { publish: { allow: ${list(user.publish)} }, subscribe: { allow: ${list(user.subscribe)} } } }`);
  return [
    'tls {',
    `  cert_file: ${quoted(config.server.certFile)}`,
    `  key_file: ${quoted(config.server.keyFile)}`,
    `  ca_file: ${quoted(config.authority.certFile)}`,
    '  verify_and_map: true',
    `  timeout: ${config.handshakeTimeoutS ?? 2}`,
    '}',
    'authorization {',
    '  users = [',
    users.join(',\n'),
    '  ]',
    '}',
    '',
  ].join('\n');
}
