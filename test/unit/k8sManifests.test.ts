// The Kubernetes manifests in ops/k8s, checked offline. Every YAML document must mean the
// same under YAML 1.1 (what kubectl reads) and 1.2, and validate against the schema of its
// kind for Kubernetes 1.33 (kubernetes-models 4.5.1, generated from the Kubernetes OpenAPI
// spec; the ServiceMonitor CRD through @kubernetes-models/prometheus-operator); a kind with
// no schema here fails. The schemas do not reject unknown fields (the API's OpenAPI does not
// say additionalProperties: false; kubectl's strict field validation does), so the checks
// after them read every field that matters by its exact path: a misspelt field shows up as
// a missing one. They check what ties the objects together: Services, the PodDisruptionBudgets
// and the ServiceMonitor select the pods and ports they mean; probes hit /health/ready and
// /health/live on a declared port; every variable the Engram container gets is one Engram
// reads, and loadConfig accepts them; the dns+srv seed resolves, through the real
// resolveSrvSeeds, to exactly the node ids the pods get; the preStop drain fits the grace
// period; the NATS config parses with nats-server and routes to every NATS pod. Each check
// returns its problems as sentences, so the negative cases break a copy and expect one.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, Secret, Service, type IContainer, type IPodSpec, type IProbe, type IService } from 'kubernetes-models/v1';
import { Deployment, StatefulSet, type IStatefulSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ServiceMonitor, type IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { resolveSrvSeeds } from '../../cluster/membership/seeds.js';
import { natsServerBinary } from '../support/natsServer.js';
import { defaultConfig, loadConfig } from '../../src/config.js';

const ROOT = join(import.meta.dirname, '..', '..');
const K8S_DIR = join(ROOT, 'ops', 'k8s');
/** The Kubernetes release whose schemas kubernetes-models 4.5.1 carries (its changelog). */
const KUBERNETES_VERSION = '1.33';
/** The cluster's DNS domain the SRV seed names: Kubernetes' default. */
const CLUSTER_DOMAIN = 'cluster.local';

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

interface Loaded {
  file: string;
  manifest: Manifest;
}

type ModelClass = new (data: never) => { validate(): void };

/** The kinds these manifests may use, by apiVersion/kind; anything else has no schema here and fails. */
const MODELS: Record<string, ModelClass> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/StatefulSet': StatefulSet,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

class ManifestError extends Error {
  override name = 'ManifestError';
}

// ---------------------------------------------------------------------------------------
// Loading and schema validation
// ---------------------------------------------------------------------------------------

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** The documents of a YAML text; fails on any error or warning, and when YAML 1.1 and 1.2 read it differently. */
function parseYaml(text: string, file: string): unknown[] {
  const read = (version: '1.1' | '1.2') =>
    parseAllDocuments(text, { version, prettyErrors: true }).map((document) => {
      const trouble = [...document.errors, ...document.warnings];
      if (trouble.length > 0) throw new ManifestError(`${file}: ${trouble.map((t) => t.message).join('; ')}`);
      return document.toJS() as unknown;
    });
  const strict = read('1.2');
  expect(read('1.1'), `${file} reads the same under YAML 1.1 (kubectl) as under 1.2`).toEqual(strict);
  return strict.filter((document) => document !== null);
}

/** Validates one object against its kind's schema; throws a ManifestError naming what is wrong. */
function validateManifest(value: unknown): Manifest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ManifestError('a document is not an object');
  const object = value as Partial<Manifest>;
  const key = `${object.apiVersion}/${object.kind}`;
  const Model = MODELS[key];
  if (Model === undefined) throw new ManifestError(`no Kubernetes ${KUBERNETES_VERSION} schema here for ${key}`);
  if (typeof object.metadata?.name !== 'string' || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(object.metadata.name)) {
    throw new ManifestError(`${key} needs metadata.name as a DNS label, got ${JSON.stringify(object.metadata?.name)}`);
  }
  try {
    new Model(structuredClone(value) as never).validate();
  } catch (error) {
    throw new ManifestError(`${key} ${object.metadata.name}: ${(error as Error).message}`);
  }
  return value as Manifest;
}

interface Kustomization {
  apiVersion: string;
  kind: string;
  namespace: string;
  resources: string[];
}

function loadAll(): { objects: Loaded[]; kustomization: Kustomization } {
  const objects: Loaded[] = [];
  let kustomization: Kustomization | undefined;
  for (const path of yamlFiles(K8S_DIR)) {
    const file = relative(K8S_DIR, path);
    for (const document of parseYaml(readFileSync(path, 'utf8'), file)) {
      if (file === 'kustomization.yaml') kustomization = document as Kustomization;
      else objects.push({ file, manifest: validateManifest(document) });
    }
  }
  if (kustomization === undefined) throw new ManifestError('ops/k8s has no kustomization.yaml');
  return { objects, kustomization };
}

// ---------------------------------------------------------------------------------------
// The manifests as a whole, and the checks across them
// ---------------------------------------------------------------------------------------

class Manifests {
  constructor(
    readonly objects: Manifest[],
    readonly namespace: string,
  ) {}

  of<T>(kind: string): (T & Manifest)[] {
    return this.objects.filter((object) => object.kind === kind) as (T & Manifest)[];
  }

  named<T>(kind: string, name: string): (T & Manifest) | undefined {
    return this.of<T>(kind).find((object) => object.metadata.name === name);
  }

  statefulSet(name: string): IStatefulSet & Manifest {
    const found = this.named<IStatefulSet>('StatefulSet', name);
    if (found === undefined) throw new ManifestError(`no StatefulSet ${name}`);
    return found;
  }
}

function podSpec(set: IStatefulSet): IPodSpec {
  return set.spec!.template.spec!;
}

function podLabels(set: IStatefulSet): Record<string, string> {
  return set.spec!.template.metadata?.labels ?? {};
}

function allContainers(set: IStatefulSet): IContainer[] {
  return [...(podSpec(set).initContainers ?? []), ...podSpec(set).containers];
}

function container(set: IStatefulSet, name: string): IContainer {
  const found = podSpec(set).containers.find((c) => c.name === name);
  if (found === undefined) throw new ManifestError(`StatefulSet ${set.metadata?.name} has no container ${name}`);
  return found;
}

/** Whether a matchLabels selector picks an object with these labels (an empty selector would pick everything, so it does not count). */
function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([key, value]) => labels[key] === value);
}

/** The StatefulSets whose pods a selector picks. */
function workloadsSelected(m: Manifests, selector: Record<string, string> | undefined): (IStatefulSet & Manifest)[] {
  return m.of<IStatefulSet>('StatefulSet').filter((set) => selects(selector, podLabels(set)));
}

/** The container port a Service's targetPort or a probe's port names, by name or number. */
function declaredPort(set: IStatefulSet, port: number | string | undefined): { name?: string; containerPort: number } | undefined {
  return allContainers(set)
    .flatMap((c) => c.ports ?? [])
    .find((p) => (typeof port === 'number' ? p.containerPort === port : p.name === port));
}

/** The container's env with $(VAR) references expanded as the kubelet does (only variables defined earlier). */
function expandedEnv(c: IContainer, fieldValues: Record<string, string>): { env: Record<string, string>; problems: string[] } {
  const env: Record<string, string> = {};
  const problems: string[] = [];
  for (const variable of c.env ?? []) {
    const fieldPath = variable.valueFrom?.fieldRef?.fieldPath;
    if (fieldPath !== undefined) {
      if (fieldValues[fieldPath] === undefined) problems.push(`${variable.name} comes from ${fieldPath}, which this check does not model`);
      env[variable.name] = fieldValues[fieldPath] ?? '';
      continue;
    }
    env[variable.name] = (variable.value ?? '').replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (match, name: string | undefined) => {
      if (name === undefined) return '$';
      if (env[name] === undefined) problems.push(`${variable.name} refers to $(${name}), which is not defined before it, so the kubelet leaves it as it is`);
      return env[name] ?? match;
    });
  }
  return { env, problems };
}

/** Engram's sources that read settings: src/config.ts and the modules beside it and in cluster/ that it reads through. */
const engramSources = ['src', 'cluster']
  .flatMap((dir) => readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts')).map((file) => join(ROOT, dir, file)))
  .map((file) => readFileSync(file, 'utf8'))
  .join('\n');
/** Variables of Node.js itself, not Engram's, that the container may set. */
const NODE_VARIABLES = new Set(['NODE_OPTIONS']);

function checkSelectors(m: Manifests): string[] {
  const problems: string[] = [];
  for (const set of m.of<IStatefulSet>('StatefulSet')) {
    if (!selects(set.spec?.selector.matchLabels, podLabels(set))) problems.push(`StatefulSet ${set.metadata.name}'s selector does not match its pod labels`);
    if (set.spec?.selector.matchExpressions !== undefined) problems.push(`StatefulSet ${set.metadata.name} uses matchExpressions, which these checks do not read`);
    const service = m.named<IService>('Service', set.spec?.serviceName ?? '');
    if (service === undefined) problems.push(`StatefulSet ${set.metadata.name}'s serviceName ${set.spec?.serviceName} is no Service here`);
    else if (service.spec?.clusterIP !== 'None') problems.push(`StatefulSet ${set.metadata.name}'s serviceName ${service.metadata.name} is not headless (clusterIP: None)`);
    else if (service.spec.publishNotReadyAddresses !== true) problems.push(`headless Service ${service.metadata.name} does not publish pods before they are ready, so peers cannot find each other while starting`);
    else if (!selects(service.spec.selector, podLabels(set))) problems.push(`headless Service ${service.metadata.name} does not select StatefulSet ${set.metadata.name}'s pods`);
    for (const term of podSpec(set).affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
      if (!selects(term.podAffinityTerm.labelSelector?.matchLabels, podLabels(set))) problems.push(`StatefulSet ${set.metadata.name}'s anti-affinity does not select its own pods`);
    }
  }
  for (const service of m.of<IService>('Service')) {
    const sets = workloadsSelected(m, service.spec?.selector);
    if (sets.length !== 1) {
      problems.push(`Service ${service.metadata.name} selects ${sets.length} StatefulSets' pods, not one`);
      continue;
    }
    for (const port of service.spec?.ports ?? []) {
      const target = port.targetPort ?? port.port;
      if (declaredPort(sets[0]!, target) === undefined) problems.push(`Service ${service.metadata.name} port ${port.name} targets ${target}, which no container of ${sets[0]!.metadata.name} declares`);
    }
  }
  for (const budget of m.of<IPodDisruptionBudget>('PodDisruptionBudget')) {
    if (workloadsSelected(m, budget.spec?.selector?.matchLabels).length !== 1) problems.push(`PodDisruptionBudget ${budget.metadata.name} does not select the pods of exactly one StatefulSet`);
    if (budget.spec?.maxUnavailable !== 1) problems.push(`PodDisruptionBudget ${budget.metadata.name} allows ${budget.spec?.maxUnavailable} pods away, not 1`);
  }
  const covered = new Set(m.of<IPodDisruptionBudget>('PodDisruptionBudget').flatMap((budget) => workloadsSelected(m, budget.spec?.selector?.matchLabels).map((set) => set.metadata.name)));
  for (const set of m.of<IStatefulSet>('StatefulSet')) if (!covered.has(set.metadata.name)) problems.push(`StatefulSet ${set.metadata.name} has no PodDisruptionBudget`);
  return problems;
}

function checkProbes(set: IStatefulSet & Manifest, c: IContainer, paths: { ready: string; live: string; startup: string }): string[] {
  const problems: string[] = [];
  const expectProbe = (kind: string, probe: IProbe | undefined, path: string) => {
    if (probe?.httpGet === undefined) return problems.push(`${set.metadata.name}/${c.name} has no HTTP ${kind}`);
    if (probe.httpGet.path !== path) problems.push(`${set.metadata.name}/${c.name}'s ${kind} asks ${probe.httpGet.path}, not ${path}`);
    if (declaredPort(set, probe.httpGet.port) === undefined) problems.push(`${set.metadata.name}/${c.name}'s ${kind} port ${probe.httpGet.port} is not a declared container port`);
    return problems.length;
  };
  expectProbe('readinessProbe', c.readinessProbe, paths.ready);
  expectProbe('livenessProbe', c.livenessProbe, paths.live);
  expectProbe('startupProbe', c.startupProbe, paths.startup);
  return problems;
}

function checkPodSecurity(m: Manifests): string[] {
  const problems: string[] = [];
  for (const set of m.of<IStatefulSet>('StatefulSet')) {
    const pod = podSpec(set);
    const volumes = new Set([...(pod.volumes ?? []).map((v) => v.name), ...(set.spec?.volumeClaimTemplates ?? []).map((t) => t.metadata?.name)]);
    for (const c of allContainers(set)) {
      const where = `${set.metadata.name}/${c.name}`;
      if (c.securityContext?.runAsNonRoot !== true && pod.securityContext?.runAsNonRoot !== true) problems.push(`${where} may run as root`);
      if (c.securityContext?.allowPrivilegeEscalation !== false) problems.push(`${where} allows privilege escalation`);
      if (c.securityContext?.readOnlyRootFilesystem !== true) problems.push(`${where} has a writable root filesystem`);
      if (!(c.securityContext?.capabilities?.drop ?? []).includes('ALL')) problems.push(`${where} keeps Linux capabilities`);
      if (c.resources?.requests?.['memory'] === undefined || c.resources.limits?.['memory'] === undefined) problems.push(`${where} lacks a memory request or limit`);
      for (const mount of c.volumeMounts ?? []) if (!volumes.has(mount.name)) problems.push(`${where} mounts ${mount.name}, which is no volume of the pod`);
    }
    // A Service whose name turns into ENGRAM_* variables (`engram` gives ENGRAM_PORT=tcp://...) must not be linked in.
    const clashing = m.of<IService>('Service').filter((s) => s.metadata.name.toUpperCase().replaceAll('-', '_').startsWith('ENGRAM'));
    if (set.metadata.name === 'engram' && clashing.length > 0 && pod.enableServiceLinks !== false) {
      problems.push(`StatefulSet engram links Services in as variables, so Service ${clashing[0]!.metadata.name} sets ENGRAM_PORT=tcp://...`);
    }
  }
  return problems;
}

/** What the Engram pods' environment turns into, for pod `ordinal`. */
function engramEnv(m: Manifests, ordinal: number): { env: Record<string, string>; problems: string[] } {
  const set = m.statefulSet('engram');
  return expandedEnv(container(set, 'engram'), { 'metadata.name': `${set.metadata.name}-${ordinal}`, 'metadata.namespace': m.namespace });
}

function checkEngramEnv(m: Manifests): string[] {
  const set = m.statefulSet('engram');
  const c = container(set, 'engram');
  const { env, problems } = engramEnv(m, 0);
  const referenced = (name: string) => (c.env ?? []).some((v) => v.value?.includes(`$(${name})`) === true && v.name.startsWith('ENGRAM_'));
  for (const variable of c.env ?? []) {
    const { name } = variable;
    if (name.startsWith('ENGRAM_')) {
      if (!engramSources.includes(`'${name}'`)) problems.push(`${name} is not a variable Engram reads (no '${name}' in src/ or cluster/)`);
    } else if (!NODE_VARIABLES.has(name) && !(variable.valueFrom?.fieldRef !== undefined && referenced(name))) {
      problems.push(`${name} is neither an Engram variable nor a downward-API value that one of them refers to`);
    }
  }
  for (const init of podSpec(set).initContainers ?? []) {
    for (const variable of init.env ?? []) {
      if (env[variable.name] !== undefined && variable.value !== env[variable.name]) problems.push(`init container ${init.name} has ${variable.name}=${variable.value}, the node has ${env[variable.name]}`);
    }
  }
  try {
    const config = loadConfig(env);
    if (declaredPort(set, 'graphql')?.containerPort !== config.port) problems.push(`ENGRAM_PORT ${config.port} is not the graphql container port`);
    if (declaredPort(set, 'metrics')?.containerPort !== Number(config.metricsAddr?.split(':').at(-1))) problems.push(`ENGRAM_METRICS_ADDR ${config.metricsAddr} is not on the metrics container port`);
    if (config.host !== '0.0.0.0') problems.push(`ENGRAM_HOST ${config.host} is not reachable from other pods`);
    if (config.natsUrl === undefined) problems.push('ENGRAM_NATS_URL is unset: the nodes would run embedded, each alone');
    if (config.auth.mode !== 'keys') problems.push(`ENGRAM_AUTH is ${config.auth.mode}, not keys`);
    if (!(c.volumeMounts ?? []).some((mount) => mount.mountPath === config.dataDir && (set.spec?.volumeClaimTemplates ?? []).some((t) => t.metadata?.name === mount.name))) {
      problems.push(`ENGRAM_DATA_DIR ${config.dataDir} is not the mount of a volumeClaimTemplate`);
    }
    const keyMount = (c.volumeMounts ?? []).find((mount) => config.auth.adminKeyFile?.startsWith(`${mount.mountPath}/`) === true);
    const secret = podSpec(set).volumes?.find((v) => v.name === keyMount?.name)?.secret;
    const item = secret?.items?.find((i) => `${keyMount?.mountPath}/${i.path}` === config.auth.adminKeyFile);
    if (secret?.secretName !== 'engram-admin-key' || item?.key !== 'key') problems.push(`ENGRAM_ADMIN_KEY_FILE ${config.auth.adminKeyFile} is not the key "key" of Secret engram-admin-key (README.md)`);
    else if (secret.defaultMode !== 0o440) problems.push(`the admin key's file mode is ${secret.defaultMode?.toString(8)}, not 440`);
  } catch (error) {
    problems.push(`loadConfig refuses the environment: ${(error as Error).message}`);
  }
  return problems;
}

/**
 * The SRV records CoreDNS publishes for `_<port>._tcp.<service>`: for a ClusterIP Service, one
 * whose target is the Service's own name; for a headless one, one per pod (ready or not, with
 * publishNotReadyAddresses), whose target is <hostname>.<service> when the pod's hostname and
 * subdomain name it there (a StatefulSet's pods under its serviceName), else a name made of
 * the pod's IP.
 */
function srvTargets(m: Manifests, service: IService & Manifest, set: IStatefulSet & Manifest): string[] {
  const suffix = `${service.metadata.name}.${m.namespace}.svc.${CLUSTER_DOMAIN}`;
  if (service.spec?.clusterIP !== 'None') return [suffix];
  const ordinals = [...Array(set.spec!.replicas ?? 1).keys()];
  return ordinals.map((i) => (set.spec!.serviceName === service.metadata.name ? `${set.metadata.name}-${i}.${suffix}` : `10-0-0-${10 + i}.${suffix}`));
}

/** The dns+srv seed, resolved by the real resolveSrvSeeds over the records Kubernetes publishes for it. */
async function checkSeeds(m: Manifests): Promise<string[]> {
  const set = m.statefulSet('engram');
  const seeds = engramEnv(m, 0).env['ENGRAM_SEEDS'] ?? '';
  const match = /^dns\+srv:_([a-z0-9-]+)\._tcp\.([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.(.+)$/.exec(seeds);
  if (match === null) return [`ENGRAM_SEEDS ${seeds} is not dns+srv:_<port>._tcp.<service>.<namespace>.svc.<domain>`];
  const [, portName, serviceName, namespace, domain] = match;
  const problems: string[] = [];
  const service = m.named<IService>('Service', serviceName!);
  if (service === undefined) return [`ENGRAM_SEEDS names Service ${serviceName}, which is not here`];
  if (serviceName !== set.spec?.serviceName) problems.push(`ENGRAM_SEEDS names Service ${serviceName}, but the pods' DNS names live under the StatefulSet's serviceName ${set.spec?.serviceName}, so the SRV targets would not be pod names`);
  if (namespace !== m.namespace) problems.push(`ENGRAM_SEEDS names namespace ${namespace}, the pods run in ${m.namespace}`);
  if (domain !== CLUSTER_DOMAIN) problems.push(`ENGRAM_SEEDS names cluster domain ${domain}`);
  if (!(service.spec?.ports ?? []).some((p) => p.name === portName && (p.protocol ?? 'TCP') === 'TCP')) problems.push(`Service ${serviceName} has no TCP port named ${portName}, so _${portName}._tcp has no records`);
  const targets = srvTargets(m, service, set);
  const ids = await resolveSrvSeeds(seeds.slice('dns+srv:'.length), async () => targets.map((name) => ({ name, port: 4000, priority: 0, weight: 1 })));
  const nodeIds = [...Array(set.spec!.replicas ?? 1).keys()].map((i) => engramEnv(m, i).env['ENGRAM_NODE_ID']);
  if (JSON.stringify([...ids].sort()) !== JSON.stringify([...nodeIds].sort())) problems.push(`the SRV seeds resolve to ${ids.join(', ')}, but the nodes are ${nodeIds.join(', ')}`);
  return problems;
}

function checkDrain(m: Manifests): string[] {
  const set = m.statefulSet('engram');
  const c = container(set, 'engram');
  const { env } = engramEnv(m, 0);
  const command = c.lifecycle?.preStop?.exec?.command ?? [];
  const problems: string[] = [];
  if (command.some((part) => part.includes('$('))) problems.push('the preStop hook uses $(VAR), which the kubelet does not expand in exec hooks');
  if (command[0] !== '/bin/sh' || command[1] !== '-c' || command.length !== 3) return [...problems, 'the preStop hook is not one shell command (sh -c), which it needs to read the container env'];
  const match = /^exec timeout (\d+) npm run --silent drain -- --url "http:\/\/127\.0\.0\.1:\$\{ENGRAM_PORT\}" --key-file (\S+)$/.exec(command[2]!);
  if (match === null) return [...problems, `the preStop hook is not a bounded drain: ${command[2]}`];
  const hookS = Number(match[1]);
  const graceS = podSpec(set).terminationGracePeriodSeconds ?? 30;
  const drainMs = Number(env['ENGRAM_DRAIN_TIMEOUT_MS'] ?? 30_000);
  if (match[2] !== env['ENGRAM_ADMIN_KEY_FILE']) problems.push(`the drain reads the key from ${match[2]}, the node from ${env['ENGRAM_ADMIN_KEY_FILE']}`);
  if (drainMs + 3000 > hookS * 1000) problems.push(`the hook's ${hookS} s leaves under 3 s beyond the ${drainMs} ms drain for npm and tsx to start`);
  if (hookS + defaultConfig.shutdownGraceMs / 1000 + 10 > graceS) problems.push(`the hook (${hookS} s), the HTTP grace (${defaultConfig.shutdownGraceMs / 1000} s) and 10 s to flush exceed terminationGracePeriodSeconds ${graceS}`);
  return problems;
}

function checkServiceMonitor(m: Manifests): string[] {
  const problems: string[] = [];
  const metricsPort = declaredPort(m.statefulSet('engram'), 'metrics');
  for (const monitor of m.of<IServiceMonitor>('ServiceMonitor')) {
    const services = m.of<IService>('Service').filter((s) => selects(monitor.spec.selector.matchLabels, s.metadata.labels ?? {}));
    if (services.length === 0) problems.push(`ServiceMonitor ${monitor.metadata.name} selects no Service`);
    for (const endpoint of monitor.spec.endpoints) {
      if (endpoint.path !== '/metrics') problems.push(`ServiceMonitor ${monitor.metadata.name} scrapes ${endpoint.path}, not /metrics`);
      if (endpoint.honorLabels !== true) problems.push(`ServiceMonitor ${monitor.metadata.name} renames Engram's node label to exported_node (honorLabels)`);
      for (const service of services) {
        const port = service.spec?.ports?.find((p) => p.name === endpoint.port);
        if (port === undefined) problems.push(`Service ${service.metadata.name} has no port named ${endpoint.port}`);
        else if (port.targetPort !== metricsPort?.name && port.targetPort !== metricsPort?.containerPort) problems.push(`Service ${service.metadata.name} port ${endpoint.port} does not reach the key-free metrics port`);
        const job = service.metadata.labels?.[monitor.spec.jobLabel ?? ''];
        if (job !== 'engram') problems.push(`ServiceMonitor ${monitor.metadata.name} names the job ${job ?? service.metadata.name}, the rules select job="engram"`);
      }
    }
  }
  if (m.of('ServiceMonitor').length === 0) problems.push('no ServiceMonitor');
  return problems;
}

/** nats.conf's settings that the rest depends on, read with patterns: nats-server itself parses it below. */
function natsConf(m: Manifests): string {
  const conf = m.named<{ data?: Record<string, string> }>('ConfigMap', 'nats-config')?.data?.['nats.conf'];
  if (conf === undefined) throw new ManifestError('no ConfigMap nats-config with nats.conf');
  return conf;
}

function checkNats(m: Manifests): string[] {
  const problems: string[] = [];
  const set = m.statefulSet('nats');
  const c = container(set, 'nats');
  const conf = natsConf(m);
  const number = (pattern: RegExp) => Number(pattern.exec(conf)?.[1]);
  const ports = { client: number(/^port:\s*(\d+)/m), monitor: number(/^http_port:\s*(\d+)/m), cluster: number(/cluster\s*\{[^}]*?\bport:\s*(\d+)/) };
  for (const [name, port] of Object.entries(ports)) if (declaredPort(set, name)?.containerPort !== port) problems.push(`nats.conf puts ${name} on ${port}, the container declares ${declaredPort(set, name)?.containerPort}`);
  const routes = [...conf.matchAll(/nats:\/\/([a-z0-9.-]+):(\d+)/g)].map((r) => `${r[1]}:${r[2]}`).sort();
  const pods = [...Array(set.spec!.replicas ?? 1).keys()].map((i) => `${set.metadata.name}-${i}.${set.spec!.serviceName}:${ports.cluster}`);
  if (JSON.stringify(routes) !== JSON.stringify(pods)) problems.push(`nats.conf routes to ${routes.join(', ')}, the pods are ${pods.join(', ')}`);
  problems.push(...checkProbes(set, c, { ready: '/healthz', live: '/healthz', startup: '/healthz' }));
  const pidFile = /^pid_file:\s*(\S+)/m.exec(conf)?.[1];
  const ldm = c.lifecycle?.preStop?.exec?.command?.join(' ');
  if (ldm !== `nats-server --signal ldm=${pidFile}`) problems.push(`the NATS preStop (${ldm}) does not signal lame-duck mode through ${pidFile}`);
  if (!(c.volumeMounts ?? []).some((mount) => pidFile?.startsWith(`${mount.mountPath}/`))) problems.push(`the NATS pid file ${pidFile} is on the read-only root filesystem`);
  if (!/^nats:\d+\.\d+\.\d+-alpine$/.test(c.image ?? '')) problems.push(`the NATS image ${c.image} is not pinned to one release`);
  const lameDuckS = number(/^lame_duck_duration:\s*(\d+)s/m) + number(/^lame_duck_grace_period:\s*(\d+)s/m);
  if (lameDuckS >= (podSpec(set).terminationGracePeriodSeconds ?? 30)) problems.push('lame-duck mode outlasts the NATS grace period');
  // The Engram nodes reach NATS through a Service that exposes the client port of these pods.
  const url = new URL(engramEnv(m, 0).env['ENGRAM_NATS_URL'] ?? 'nats://missing');
  const service = m.named<IService>('Service', url.hostname);
  const port = service?.spec?.ports?.find((p) => p.port === Number(url.port || 4222));
  if (service === undefined || port === undefined || !selects(service.spec?.selector, podLabels(set)) || declaredPort(set, port.targetPort)?.containerPort !== ports.client) {
    problems.push(`ENGRAM_NATS_URL ${url.href} is not a Service port that reaches the NATS servers' client port`);
  }
  return problems;
}

function checkImage(m: Manifests): string[] {
  const problems: string[] = [];
  const set = m.statefulSet('engram');
  const dockerfile = readFileSync(join(K8S_DIR, 'Dockerfile'), 'utf8');
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  for (const c of allContainers(set)) if (c.image !== `engram:${version}`) problems.push(`${c.name} runs ${c.image}, not engram:${version} (package.json)`);
  const workdir = /^WORKDIR\s+(\S+)/m.exec(dockerfile)?.[1];
  if (container(set, 'engram').workingDir !== workdir) problems.push(`the container works in ${container(set, 'engram').workingDir}, the image in ${workdir}`);
  const user = /^USER\s+(\d+):(\d+)/m.exec(dockerfile);
  if (Number(user?.[1]) !== podSpec(set).securityContext?.runAsUser || Number(user?.[2]) !== podSpec(set).securityContext?.runAsGroup) problems.push(`the image's USER ${user?.[0]} is not the pod's runAsUser/runAsGroup`);
  const cmd = JSON.parse(/^CMD\s+(\[.*\])\s*$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
  if (cmd[0] !== 'node' || !cmd.includes('src/server/main.ts')) problems.push(`the image's CMD ${cmd.join(' ')} is not node itself running src/server/main.ts, so SIGTERM would not reach the node`);
  if (!/^FROM node:20-bookworm-slim$/m.test(dockerfile)) problems.push('the image is not built on node:20-bookworm-slim');
  return problems;
}

// ---------------------------------------------------------------------------------------

const { objects, kustomization } = loadAll();
const manifests = new Manifests(
  objects.map((o) => o.manifest),
  kustomization.namespace,
);

/** The negative cases reach into copies of the manifests by path, untyped. */
type Loose = any;

/** A copy of the manifests with one object changed. */
function broken(kind: string, name: string, change: (object: Loose) => void): Manifests {
  const copy = structuredClone(manifests.objects);
  const target = copy.find((o) => o.kind === kind && o.metadata.name === name);
  if (target === undefined) throw new ManifestError(`no ${kind} ${name} to break`);
  change(target);
  return new Manifests(copy, manifests.namespace);
}


describe('Kubernetes manifests (ops/k8s)', () => {
  it('everyDocument_validatesAgainstTheSchemaOfItsKind_forKubernetes133', () => {
    const kinds = objects.map((o) => `${o.file}: ${o.manifest.kind}/${o.manifest.metadata.name}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'engram-statefulset.yaml: StatefulSet/engram',
        'engram-service.yaml: Service/engram-headless',
        'engram-service.yaml: Service/engram',
        'nats.yaml: StatefulSet/nats',
        'nats.yaml: ConfigMap/nats-config',
        'engram-pdb.yaml: PodDisruptionBudget/engram',
        'engram-pdb.yaml: PodDisruptionBudget/nats',
        'engram-servicemonitor.yaml: ServiceMonitor/engram',
      ]),
    );
    for (const object of objects) expect(object.manifest.metadata.namespace, `${object.file} leaves the namespace to kustomize`).toBeUndefined();
  });

  it('kustomization_listsEveryManifestFile_andSetsTheNamespace', () => {
    expect(kustomization.apiVersion).toBe('kustomize.config.k8s.io/v1beta1');
    expect(kustomization.kind).toBe('Kustomization');
    expect(kustomization.namespace).toMatch(/^[a-z0-9-]+$/);
    expect([...kustomization.resources].sort()).toEqual([...new Set(objects.map((o) => o.file))].sort());
  });

  it('engramStatefulSet_isThreeParallelNodesWithAVolumeEach', () => {
    const set = manifests.statefulSet('engram');
    expect(set.spec?.replicas).toBe(3);
    expect(set.spec?.podManagementPolicy).toBe('Parallel');
    expect(set.spec?.volumeClaimTemplates?.map((t) => t.metadata?.name)).toEqual(['data']);
    expect(podSpec(set).terminationGracePeriodSeconds).toBe(60);
    const nodeId = container(set, 'engram').env?.find((v) => v.name === 'ENGRAM_NODE_ID');
    expect(nodeId?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
  });

  it('selectors_matchThePodsTheyMean_andEveryWorkloadHasADisruptionBudget', () => {
    expect(checkSelectors(manifests)).toEqual([]);
  });

  it('engramProbes_askHealthReadyAndHealthLive_onADeclaredPort', () => {
    const set = manifests.statefulSet('engram');
    expect(checkProbes(set, container(set, 'engram'), { ready: '/health/ready', live: '/health/live', startup: '/health/live' })).toEqual([]);
  });

  it('everyContainer_runsAsNonRootOnAReadOnlyRoot_withMemoryBounds', () => {
    expect(checkPodSecurity(manifests)).toEqual([]);
  });

  it('engramEnvironment_namesOnlyEngramVariables_andLoadConfigAcceptsIt', () => {
    expect(checkEngramEnv(manifests)).toEqual([]);
  });

  it('dnsSrvSeed_resolvesThroughResolveSrvSeeds_toTheNodeIdsOfThePods', async () => {
    expect(await checkSeeds(manifests)).toEqual([]);
  });

  it('preStopDrain_isBoundedAndFitsTheGracePeriod', () => {
    expect(checkDrain(manifests)).toEqual([]);
  });

  it('serviceMonitor_scrapesTheKeyFreeMetricsPort_asJobEngram', () => {
    expect(checkServiceMonitor(manifests)).toEqual([]);
  });

  it('nats_routesToEveryServer_andTheEngramNodesReachItsClientPort', () => {
    expect(checkNats(manifests)).toEqual([]);
  });

  it('natsConf_isAcceptedByNatsServer', () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-k8s-'));
    try {
      const file = join(dir, 'nats.conf');
      writeFileSync(file, natsConf(manifests));
      const result = spawnSync(natsServerBinary(), ['-t', '-c', file], { encoding: 'utf8', env: { ...process.env, POD_NAME: 'nats-0' }, timeout: 10_000 });
      expect(`${result.stdout}${result.stderr}`).toContain('is valid');
      expect(result.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('image_isTheDockerfilesAndPackageJsonsVersion', () => {
    expect(checkImage(manifests)).toEqual([]);
  });

  describe('negative cases', () => {
    it('validateManifest_rejectsADeploymentWithReplicasThree', () => {
      const deployment = {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'broken' },
        spec: { replicas: 'three', selector: { matchLabels: { app: 'x' } }, template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'x', image: 'x:1' }] } } },
      };
      expect(() => validateManifest(deployment)).toThrow(/replicas must be integer/);
      expect(() => validateManifest({ ...deployment, spec: { ...deployment.spec, replicas: 3 } })).not.toThrow();
    });

    it('validateManifest_rejectsKindsWithoutASchema_andRemovedApiVersions', () => {
      expect(() => validateManifest({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } })).toThrow(/no Kubernetes 1\.33 schema/);
      expect(() => validateManifest({ apiVersion: 'policy/v1beta1', kind: 'PodDisruptionBudget', metadata: { name: 'p' }, spec: { maxUnavailable: 1 } })).toThrow(/no Kubernetes 1\.33 schema/);
    });

    it('validateManifest_rejectsAServiceMonitorWithABadInterval', () => {
      const monitor = structuredClone(manifests.named('ServiceMonitor', 'engram')) as Loose;
      monitor.spec.endpoints[0].interval = 'often';
      expect(() => validateManifest(monitor)).toThrow(/interval must match pattern/);
    });

    it('parseYaml_rejectsTextThatYaml11ReadsDifferently', () => {
      expect(() => parseYaml('mode: 0440\nenabled: on\n', 'sample.yaml')).toThrow(/reads the same under YAML 1.1/);
    });

    it('checks_catchABrokenReference', async () => {
      expect(checkSelectors(broken('StatefulSet', 'engram', (s: Loose) => (s.spec.serviceName = 'engram')))).toEqual([expect.stringContaining('is not headless')]);
      expect(checkSelectors(broken('Service', 'engram', (s: Loose) => (s.spec.ports[0].targetPort = 'http')))).toEqual([expect.stringContaining('targets http')]);
      const set = broken('StatefulSet', 'engram', (s: Loose) => (s.spec.template.spec.containers[0].readinessProbe.httpGet.path = '/ready')).statefulSet('engram');
      expect(checkProbes(set, container(set, 'engram'), { ready: '/health/ready', live: '/health/live', startup: '/health/live' })).toEqual([expect.stringContaining('asks /ready')]);
      expect(checkEngramEnv(broken('StatefulSet', 'engram', (s: Loose) => s.spec.template.spec.containers[0].env.push({ name: 'ENGRAM_REPLICATION', value: '3' })))).toEqual([
        expect.stringContaining('ENGRAM_REPLICATION is not a variable Engram reads'),
      ]);
      expect(checkEngramEnv(broken('StatefulSet', 'engram', (s: Loose) => s.spec.template.spec.containers[0].env.push({ name: 'ENGRAM_METRICS_ADDR', value: ':9464' })))).toEqual([
        expect.stringContaining('loadConfig refuses the environment: ENGRAM_METRICS_ADDR'),
      ]);
      expect(await checkSeeds(broken('StatefulSet', 'engram', (s: Loose) => (s.spec.serviceName = 'engram-metrics')))).toEqual([
        expect.stringContaining('would not be pod names'),
        expect.stringContaining('the SRV seeds resolve to 10-0-0-10, 10-0-0-11, 10-0-0-12'),
      ]);
      const seedOnClientService = (s: Loose) => (s.spec.template.spec.containers[0].env.find((v: Loose) => v.name === 'ENGRAM_SEEDS').value = 'dns+srv:_graphql._tcp.engram.$(POD_NAMESPACE).svc.cluster.local');
      expect(await checkSeeds(broken('StatefulSet', 'engram', seedOnClientService))).toEqual([expect.stringContaining('names Service engram,'), expect.stringContaining('the SRV seeds resolve to engram,')]);
      expect(checkDrain(broken('StatefulSet', 'engram', (s: Loose) => (s.spec.template.spec.terminationGracePeriodSeconds = 30)))).toEqual([expect.stringContaining('exceed terminationGracePeriodSeconds 30')]);
      expect(checkServiceMonitor(broken('ServiceMonitor', 'engram', (s: Loose) => (s.spec.endpoints[0].port = 'metric')))).toEqual([expect.stringContaining('no port named metric')]);
      expect(checkNats(broken('StatefulSet', 'nats', (s: Loose) => (s.spec.replicas = 5)))).toEqual([expect.stringContaining('nats.conf routes to')]);
      expect(checkPodSecurity(broken('StatefulSet', 'engram', (s: Loose) => (s.spec.template.spec.enableServiceLinks = true)))).toEqual([expect.stringContaining('ENGRAM_PORT=tcp://')]);
    });
  });
});
