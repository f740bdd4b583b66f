// The whole global view on one machine, for the system tests, the e2e tests and `make sandbox`: a Thanos release
// mirror, MinIO with a bucket, the sandbox VM (Debian's Prometheus under systemd, reached over SSH), and the
// Kubernetes side in one of two forms:
//   - "cluster" (the e2e tests and `make sandbox`): the sandbox's single-node cluster (test/sandbox/cluster.ts) with
//     prometheus-operator's HA pair of Prometheus pods; the VM, MinIO and the mirror on the cluster's bridge, where
//     pods and the VM reach them;
//   - "stand-ins" (the system tests, which run beside the e2e tests): two host Prometheus replicas with sidecars
//     standing in for the in-cluster pods, everything on loopback.
// The stack's configuration is the committed Pulumi.sandbox.yaml plus this boot's values (test/sandbox/
// stackConfig.ts), and the program itself runs on it under the mocks harness: the VM commands, their stdin payload
// and the querier's arguments are the very inputs the components register, not copies.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { parseStackConfig, type StackConfig } from "../../lib/config";
import { renderObjstoreYaml } from "../../lib/objstore";
import { parseThanosVersion } from "../../lib/thanosVersion";
import { UNIT_NAME } from "../../lib/vm/paths";
import { shQuote } from "../../lib/vm/shell";
import { asRawConfig, secretKeySet } from "../harness/configs";
import { byType, recorded, reveal, runProgram, valueOf } from "../harness/mocks";
import { startCluster, type Cluster } from "./cluster";
import { clusterResolvConf } from "./clusterFiles";
import { HOST_ADDRESS, VM_ADDRESS } from "./clusterNetwork";
import { bucketBlocks, makeBlocks, uploadBlocks, type BucketBlock } from "./coldStorage";
import { IN_CLUSTER_PROMETHEUS_IMAGES, PROMETHEUS_NAMESPACE, startInClusterPrometheus, type InClusterPrometheus } from "./inClusterPrometheus";
import { startThanosMirror, type ThanosMirror, type ThanosRelease } from "./mirror";
import { minioBinary, startMinio, type MinioServer } from "./minio";
import { freePorts, httpRequest, LOOPBACK } from "./ports";
import { createRunDir, ProcessRegistry } from "./process";
import { renderPrometheusConfig, SELF_SCRAPE_JOB, startHostPrometheus, type HostPrometheus } from "./prometheus";
import { committedConfig, committedThanosVersion, SANDBOX_SECRET_KEYS, sandboxStackConfig, type RawStackConfig, type SandboxBootValues } from "./stackConfig";
import { DNS_DISCOVERY, querierArgEndpoints, querierArgsOnHost, startQuerier, startSidecar, thanosBinary, thanosReleaseDir, type HostSidecar, type HostThanos } from "./thanos";
import { PROMETHEUS_DATA_DIR, runSsh, Vm, type PrometheusOptions, type VmOptions } from "./vm";

export const VM_CLUSTER = "prom_vm";
export const K8S_CLUSTER = "prom_k8s";
export const REPLICA_LABEL = "prometheus_replica";
/** The stack name in the sandbox's ownership tokens. */
export const SANDBOX_STACK = "sandbox";


/** The Kubernetes side: host processes standing in for the in-cluster Prometheus pods, or the sandbox cluster. */
export type KubernetesSide =
  | { kind: "stand-ins"; prometheus: readonly [HostPrometheus, HostPrometheus]; sidecars: readonly [HostSidecar, HostSidecar] }
  | { kind: "cluster"; cluster: Cluster; prometheus: InClusterPrometheus };

export interface GlobalViewSandboxOptions {
  /** Default "stand-ins". */
  kubernetes?: KubernetesSide["kind"];
  /** More releases the mirror serves (upgrades, fault tests). Each is built by test/build/build-thanos unless cached. */
  extraThanosVersions?: readonly string[];
  /** With the stand-ins, the VM's loopback address; default 127.0.0.2. With the cluster it is on the cluster's network. */
  vmAddress?: string;
  /** VM Prometheus block duration, used for min and max (the sidecar needs them equal); short ones make blocks soon. Default "2h". */
  vmBlockDuration?: string;
  /** VM Prometheus scrape interval; default "5s". */
  vmScrapeInterval?: string;
  /** Default: a fresh `.sandbox/runs/global-view-*` directory. */
  runDir?: string;
  /** Progress lines (what starts, how long it took). */
  log?: (line: string) => void;
}

/** A change to the stack config, as a later `pulumi up` would bring it. */
export interface VmChange {
  /** Keys of the VM entry (vms[0]) to set, as in Pulumi.<stack>.yaml, e.g. {logLevel: "debug"}. */
  vm?: Record<string, unknown>;
  /** Another thanosVersion; the mirror must serve it (extraThanosVersions). */
  thanosVersion?: string;
  /** Other top-level keys to set, e.g. tls or prometheusCredentials (stored as secrets, as the stack wants them). */
  stack?: RawStackConfig;
}

/** Top-level keys a change may set that the stack wants stored encrypted. */
const CHANGE_SECRET_KEYS = ["tls", "prometheusCredentials"];

/** The config keys stored encrypted for a config: the sandbox's own and those of a change. */
const secretKeysOf = (config: RawStackConfig) => [...SANDBOX_SECRET_KEYS, ...CHANGE_SECRET_KEYS.filter((key) => key in config)];

/** What the program registers for the VM entry: the sidecar's remote command, as the command provider gets it. */
interface RegisteredVmCommand {
  /** Create, and update too (the provider falls back to create). */
  create: string;
  delete: string;
  stdin: string;
  connection: { host: string; port: number; dialErrorLimit: number; perDialTimeout: number };
  /** The install's code, uploaded first (a remote.CopyToRemote): the local file and where it goes in the SSH user's home. */
  upload: { file: string; remotePath: string };
}

export interface VmCommandResult {
  name: string;
  /** ssh's exit code: the command's, or 255 when ssh itself failed (unreachable, auth). */
  code: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface RunOnVmOptions {
  stdin?: string;
  /** Kills ssh after this long; default 2 minutes. */
  timeoutMs?: number;
  /** Dial another address instead (e.g. one where no VM answers); same key, options and timeouts. */
  target?: { host: string; port: number };
  /** ssh's ConnectTimeout; default the VM's own (5 s). The provider's is the registered perDialTimeout. */
  connectTimeoutSeconds?: number;
}

/** What systemd says about the VM's sidecar unit. */
export interface SidecarUnitState {
  activeState: string;
  /** 0 when not running. */
  mainPid: number;
  activeEnterTimestamp: string;
  /** New on every start of the unit. */
  invocationId: string;
  nRestarts: number;
}

/** The history the sandbox seeds in the bucket: a series no Prometheus here holds for that time, and its span. */
export interface BucketHistory {
  /** The series, e.g. up{instance="localhost:9090",job="prometheus"}, with these external labels in the bucket. */
  selector: string;
  externalLabels: Record<string, string>;
  /** Unix ms: [start, end), 2h-aligned, ending two days before the sandbox started. */
  startMs: number;
  endMs: number;
  /** How many blocks it was uploaded as (the compactor may merge them later). */
  blocks: number;
}

const HOUR_SECONDS = 3600;
const DAY_SECONDS = 24 * HOUR_SECONDS;

const BLOCK_ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** Awaits every promise, then throws the first failure: nothing is still starting when the caller cleans up. */
async function settleAll<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((result): result is PromiseRejectedResult => result.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

export class GlobalViewSandbox {
  /** Holds every VM command's result (never stdin): the secret test searches it with the logs. */
  readonly transcriptFile: string;
  private readonly sent: string[] = [];
  private stopping: Promise<void> | undefined;

  constructor(
    readonly runDir: string,
    readonly registry: ProcessRegistry,
    readonly mirror: ThanosMirror,
    readonly minio: MinioServer,
    readonly vm: Vm,
    /** The VM's Prometheus settings as started (what restoreVmPrometheus puts back). */
    readonly vmPrometheus: PrometheusOptions,
    readonly kubernetes: KubernetesSide,
    /** Release directories by version, as the mirror serves them. */
    readonly releases: readonly ThanosRelease[],
    /** This boot's values of the sandbox stack's config. */
    readonly bootValues: SandboxBootValues,
    /** The VM sidecar's gRPC address and readiness URL, as the stack reports them (vmSidecar*Addresses). */
    readonly vmGrpcAddress: string,
    readonly vmReadyUrl: string,
  ) {
    this.transcriptFile = path.join(runDir, "logs", "vm-commands.log");
  }

  private get standIns(): Extract<KubernetesSide, { kind: "stand-ins" }> {
    if (this.kubernetes.kind !== "stand-ins") throw new Error("this sandbox runs the cluster, not the host stand-ins");
    return this.kubernetes;
  }

  /** The in-cluster stand-ins: Prometheus replicas "0" and "1". */
  get k8sPrometheus(): readonly [HostPrometheus, HostPrometheus] {
    return this.standIns.prometheus;
  }

  /** The stand-ins' sidecars. */
  get k8sSidecars(): readonly [HostSidecar, HostSidecar] {
    return this.standIns.sidecars;
  }

  /** The sandbox cluster (kubernetes: "cluster"). */
  get cluster(): Cluster {
    if (this.kubernetes.kind !== "cluster") throw new Error("this sandbox runs host stand-ins, not the cluster");
    return this.kubernetes.cluster;
  }

  /** The operator's Prometheus pair in the cluster. */
  get inClusterPrometheus(): InClusterPrometheus {
    if (this.kubernetes.kind !== "cluster") throw new Error("this sandbox runs host stand-ins, not the cluster");
    return this.kubernetes.prometheus;
  }

  /** The stack config with a change applied (raw, as Pulumi.<stack>.yaml holds it). */
  stackConfig(change: VmChange = {}): RawStackConfig {
    const config = sandboxStackConfig(this.bootValues);
    const [vm, ...others] = config.vms as Record<string, unknown>[];
    return {
      ...config,
      ...change.stack,
      ...(change.thanosVersion !== undefined && { thanosVersion: change.thanosVersion }),
      vms: [{ ...vm, ...change.vm }, ...others],
    };
  }

  /** The stack config with a change applied, parsed by the stack's schema. */
  parsedConfig(change: VmChange = {}): StackConfig {
    const config = this.stackConfig(change);
    return parseStackConfig(asRawConfig(config), secretKeySet(secretKeysOf(config)));
  }

  /** The object-store secret key (the stack's objstoreSecretKey). */
  get secretKey(): string {
    return this.bootValues.objstoreSecretKey;
  }

  /** The objstore file a sidecar should get: the config's objstore section, rendered by the stack's renderer. */
  expectedObjstoreYaml(): string {
    const { bucket, endpoint, insecure, accessKey, region, prefix } = this.parsedConfig().objstore;
    return renderObjstoreYaml({ bucket, endpoint, insecure, accessKey, region, prefix }, this.secretKey);
  }

  /** The VM entry as the stack's schema parses it, with a change applied. */
  vmConfig(change: VmChange = {}): StackConfig["vms"][number] {
    return this.parsedConfig(change).vms[0];
  }

  /** The VM sidecar's remote command as the program registers it for the config with a change applied. */
  /** Runs the program on the config with a change applied, as `pulumi up` would. */
  private async runStack(change: VmChange): Promise<void> {
    const config = this.stackConfig(change);
    await runProgram(config, secretKeysOf(config), { stack: SANDBOX_STACK });
  }

  async vmCommand(change: VmChange = {}): Promise<RegisteredVmCommand> {
    await this.runStack(change);
    const vmName = this.vmConfig(change).name;
    const registered = (type: string, name: string) => {
      const found = byType(type).find((resource) => resource.name === name);
      if (!found) throw new Error(`the program registered no ${type} ${name}: ${recorded.map((r) => r.name).join(", ")}`);
      return found;
    };
    const command = registered("command:remote:Command", `${vmName}-sidecar`);
    const copy = registered("command:remote:CopyToRemote", `${vmName}-install-code`);
    const source = copy.inputs.source as pulumi.asset.FileAsset;
    const upload = { file: await source.path, remotePath: String(copy.inputs.remotePath) };
    return { ...(reveal(command.inputs) as Omit<RegisteredVmCommand, "upload">), upload };
  }

  /**
   * Runs the read of the VM Prometheus' external labels as the program registers it (command and stdin, as the
   * provider does; it comes before the install): its result, whose stdout names the labels.
   */
  async readExternalLabels(change: VmChange = {}): Promise<VmCommandResult> {
    await this.runStack(change);
    const name = `${this.vmConfig(change).name}-external-labels`;
    const command = byType("command:remote:Command").find((resource) => resource.name === name);
    if (!command) throw new Error(`the program registered no command ${name}`);
    const { create, stdin } = reveal(command.inputs) as { create: string; stdin: string };
    return this.runOnVm("external-labels", create, { stdin, timeoutMs: 60_000 });
  }

  /** The component's secret stdin: objstore config and the values to redact. */
  async vmPayload(): Promise<string> {
    return (await this.vmCommand()).stdin;
  }

  /**
   * The install (create and update) as the provider runs it over SSH: its code uploaded where the CopyToRemote puts
   * it (relative to the SSH user's home, parent directories made, as SFTP does), then the command with the payload
   * on stdin. A failed upload is the result.
   */
  async install(change: VmChange = {}, options: Omit<RunOnVmOptions, "stdin"> = {}): Promise<VmCommandResult> {
    const command = await this.vmCommand(change);
    const connectTimeoutSeconds = command.connection.perDialTimeout;
    const { file, remotePath } = command.upload;
    const uploaded = await this.runOnVm("install-code", `mkdir -p -- "$(dirname -- ${shQuote(remotePath)})" && cat > ${shQuote(remotePath)}`, {
      ...options,
      stdin: fs.readFileSync(file, "utf8"),
      connectTimeoutSeconds,
    });
    if (uploaded.code !== 0) return uploaded;
    // A failed change waits for the new sidecar, then for the restored one.
    const timeoutMs = options.timeoutMs ?? (2 * this.vmConfig(change).readyTimeoutSeconds + 120) * 1000;
    return this.runOnVm("install", command.create, { ...options, timeoutMs, stdin: command.stdin, connectTimeoutSeconds });
  }

  /** The delete command (what `pulumi destroy` runs). */
  async uninstall(change: VmChange = {}): Promise<VmCommandResult> {
    const command = await this.vmCommand(change);
    return this.runOnVm("delete", command.delete, { connectTimeoutSeconds: command.connection.perDialTimeout });
  }

  /**
   * Runs a command on the VM over a real SSH session, as the command provider would: one dial with the component's
   * connect timeout, the pinned host key, the generated client key. Resolves with ssh's exit code; the result (not
   * stdin) is appended to the transcript.
   */
  async runOnVm(name: string, command: string, options: RunOnVmOptions = {}): Promise<VmCommandResult> {
    this.sent.push(command);
    const started = Date.now();
    const { code, stdout, stderr } = await runSsh(this.sshArgs(options), command, { stdin: options.stdin, timeoutMs: options.timeoutMs });
    const result = { name, code, stdout, stderr, durationMs: Date.now() - started };
    fs.mkdirSync(path.dirname(this.transcriptFile), { recursive: true });
    fs.appendFileSync(
      this.transcriptFile,
      `=== ${new Date(started).toISOString()} ${name}: exit ${code} after ${result.durationMs} ms ` +
        `(command sha256 ${crypto.createHash("sha256").update(command).digest("hex").slice(0, 16)}, ${command.length} bytes)\n` +
        `--- stdout\n${stdout}--- stderr\n${stderr}`,
    );
    return result;
  }

  /** Runs a command that must succeed; its stdout. */
  async vmShell(command: string): Promise<string> {
    const result = await this.runOnVm("shell", command, { timeoutMs: 60_000 });
    if (result.code !== 0) throw new Error(`on the VM: ${command}: exit ${result.code}: ${result.stderr.trim()}`);
    return result.stdout;
  }

  /** Every command string sent to the VM so far (what the provider would print in its errors and keep in state). */
  commandsSent(): string[] {
    return [...this.sent];
  }

  async sidecarUnitState(): Promise<SidecarUnitState> {
    const out = await this.vmShell(`systemctl show ${UNIT_NAME} -p ActiveState -p MainPID -p ActiveEnterTimestamp -p InvocationID -p NRestarts`);
    const fields = new Map(out.trim().split("\n").map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
    return {
      activeState: fields.get("ActiveState") ?? "",
      mainPid: Number(fields.get("MainPID") ?? 0),
      activeEnterTimestamp: fields.get("ActiveEnterTimestamp") ?? "",
      invocationId: fields.get("InvocationID") ?? "",
      nRestarts: Number(fields.get("NRestarts") ?? 0),
    };
  }

  /** Block directories (ULIDs) in the VM Prometheus' TSDB, sorted. */
  async vmTsdbBlocks(): Promise<string[]> {
    const out = await this.vmShell(`ls -1 ${PROMETHEUS_DATA_DIR}`);
    return out.split("\n").filter((name) => BLOCK_ULID.test(name)).sort();
  }

  /** The VM's journal as short-iso lines: all of it, or one unit's, or since a time (the VM shares the host's clock). */
  async vmJournal(options: { unit?: string; since?: Date } = {}): Promise<string> {
    const unit = options.unit ? ` --unit ${options.unit}` : "";
    const since = options.since ? ` --since @${Math.floor(options.since.getTime() / 1000)}` : "";
    return this.vmShell(`journalctl --no-pager --output short-iso${unit}${since}`);
  }

  /** Every block in the stack's bucket (coldStorage.bucketBlocks). */
  bucketBlocks(): Promise<BucketBlock[]> {
    return bucketBlocks(this.minio, this.bucket);
  }



  /** Restarts the VM's Prometheus with the start settings changed by `overrides` (e.g. unequal block durations). */
  reconfigureVmPrometheus(overrides: PrometheusOptions, options?: { waitReady?: boolean }): Promise<void> {
    return this.vm.reconfigurePrometheus({ ...this.vmPrometheus, ...overrides }, options);
  }

  restoreVmPrometheus(): Promise<void> {
    return this.vm.reconfigurePrometheus(this.vmPrometheus);
  }

  /**
   * Seeds the bucket with a day of the VM's `up`, ending two days ago, long before its Prometheus started: blocks made
   * by promtool and shipped with the VM's external labels by Thanos' own uploader, as if the VM had run then. What
   * the store gateway serves, and what only a query reaching back past every Prometheus here can find.
   */
  async seedHistory(): Promise<BucketHistory> {
    const endSeconds = Math.floor((Date.now() / 1000 - 2 * DAY_SECONDS) / (2 * HOUR_SECONDS)) * 2 * HOUR_SECONDS;
    const startSeconds = endSeconds - DAY_SECONDS;
    const selector = `up{instance="${this.vm.selfScrapeTarget}",job="${SELF_SCRAPE_JOB}"}`;
    const externalLabels = this.vmPrometheus.externalLabels ?? {};
    const dir = fs.mkdtempSync(path.join(this.runDir, "history-"));
    // The uploader's objstore file holds the secret key: it lives only while the upload runs.
    const objstoreFile = path.join(dir, "objstore.yml");
    try {
      await makeBlocks(dir, { metric: "up", series: [{ selector, value: () => 1 }], startSeconds, endSeconds, stepSeconds: 60 });
      fs.writeFileSync(objstoreFile, this.expectedObjstoreYaml(), { mode: 0o600 });
      const release = this.releases.find((candidate) => candidate.version === this.parsedConfig().thanosVersion.text)!;
      const blocks = await uploadBlocks({ binary: thanosBinary(release.dir), blocksDir: path.join(dir, "blocks"), objstoreFile, labels: externalLabels, minio: this.minio, bucket: this.bucket });
      return { selector, externalLabels, startMs: startSeconds * 1000, endMs: endSeconds * 1000, blocks: blocks.length };
    } finally {
      fs.rmSync(objstoreFile, { force: true });
    }
  }

  /** The bucket the stack ships blocks to (objstore.bucket). */
  get bucket(): string {
    return this.parsedConfig().objstore.bucket;
  }

  /**
   * The querier's command line exactly as the Querier component registers it for the sandbox's stack config (with a
   * change applied), except that it listens on loopback ports instead of the container's 0.0.0.0, dials the host
   * sidecars standing in for the in-cluster pods where the stack dials their headless Service (no cluster DNS here to
   * resolve it), and, with TLS, reads the client certificate from `tlsDir`, where the files of its registered Secret
   * are written, instead of the Secret's mount path in the container.
   */
  async querierArgs(change: VmChange = {}, tlsDir?: string): Promise<string[]> {
    await this.runStack(change);
    const { querier, storeGateway } = this.parsedConfig(change).kubernetes;
    const deployment = byType("kubernetes:apps/v1:Deployment").find((resource) => reveal(resource.inputs).metadata.name === querier.name)!;
    const container = reveal(deployment.inputs).spec.template.spec.containers[0] as { args: string[]; volumeMounts?: { mountPath: string }[] };
    const files = this.querierTlsFiles(container.volumeMounts?.[0]?.mountPath, tlsDir);
    const [grpcPort, httpPort] = await freePorts(2);
    const sidecars = this.k8sSidecars.map((sidecar) => sidecar.grpcAddress);
    // The store gateway's pods have no stand-in here (the cold storage tests run it on its own bucket): its
    // endpoint is left out, the in-cluster sidecars' Service is dialled as the host sidecars.
    const discovered = Object.fromEntries(
      querierArgEndpoints(container.args).filter((address) => DNS_DISCOVERY.test(address))
        .map((address) => [address, storeGateway.enabled && address.includes(`_tcp.${storeGateway.name}.`) ? [] : sidecars]),
    );
    return querierArgsOnHost(container.args, {
      grpcAddress: `${LOOPBACK}:${grpcPort}`,
      httpAddress: `${LOOPBACK}:${httpPort}`,
      discovered,
      ...(files && { files }),
    });
  }

  /** Writes the registered querier TLS Secret's files to tlsDir; the directory to read them from instead of mountPath. */
  private querierTlsFiles(mountPath: string | undefined, tlsDir: string | undefined): { from: string; to: string } | undefined {
    const [secret] = byType("kubernetes:core/v1:Secret").filter((resource) => resource.name.endsWith("-tls"));
    if (!secret || mountPath === undefined) return undefined;
    if (tlsDir === undefined) throw new Error("the querier uses TLS: querierArgs needs a directory for its certificate");
    fs.mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
    for (const [name, content] of Object.entries(reveal(secret.inputs).stringData as Record<string, string>)) {
      fs.writeFileSync(path.join(tlsDir, name), content, { mode: 0o600 });
    }
    return { from: mountPath, to: tlsDir };
  }

  /** Starts `thanos <args>` with the binary of the stack's version (or another one the mirror serves); stopped by stop(). */
  startQuerier(args: readonly string[], name = "querier", version = this.parsedConfig().thanosVersion.text): Promise<HostThanos> {
    const release = this.releases.find((r) => r.version === version)!;
    return startQuerier(thanosBinary(release.dir), args, { runDir: this.runDir, name, registry: this.registry });
  }

  /** Stops everything the sandbox started, newest first, the VM included; safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= this.registry.stopAll();
    return this.stopping;
  }

  /** vm.sshArgs() with another connect timeout, optionally to another host and port. */
  private sshArgs(options: Pick<RunOnVmOptions, "target" | "connectTimeoutSeconds">): string[] {
    const { target, connectTimeoutSeconds } = options;
    const args = this.vm.sshArgs();
    const destination = args.pop()!;
    const adjusted = args.map((arg, i) => {
      if (connectTimeoutSeconds !== undefined && arg.startsWith("ConnectTimeout=")) return `ConnectTimeout=${connectTimeoutSeconds}`;
      if (target && args[i - 1] === "-p") return String(target.port);
      return arg;
    });
    return [...adjusted, target ? `${this.vm.user}@${target.host}` : destination];
  }
}

/** Makes replica `replica` scrape what `primary` scrapes, so the two differ only in their replica label. */
async function scrapeSameTarget(replica: HostPrometheus, primary: HostPrometheus, externalLabels: Record<string, string>): Promise<void> {
  fs.writeFileSync(replica.configFile, renderPrometheusConfig({ externalLabels, scrapeInterval: "2s", selfTarget: primary.address }));
  const response = await httpRequest({ method: "POST", url: `${replica.url}/-/reload` });
  if (response.status !== 200) throw new Error(`reloading ${replica.name}: HTTP ${response.status}: ${response.body.toString("utf8")}`);
}

/** This boot's values of the stack's config. */
function bootValuesOf(vm: Vm, minio: MinioServer, mirror: ThanosMirror, onCluster: boolean): SandboxBootValues {
  return {
    vmAddress: vm.address,
    vmHostKey: vm.hostKey,
    // On the host's network the VM's services keep to its loopback address; on the cluster's, the defaults apply.
    ...(!onCluster && { vmLoopback: { prometheusUrl: vm.prometheusUrl, bindAddress: vm.address } }),
    sshPrivateKey: vm.privateKey,
    objstoreEndpoint: minio.endpoint,
    objstoreAccessKey: minio.accessKey,
    objstoreSecretKey: minio.secretKey,
    thanosUrlTemplate: mirror.urlTemplate,
    thanosSha256sumsUrlTemplate: mirror.sha256sumsUrlTemplate,
  };
}

/**
 * Starts the sandbox and resolves once everything answers (the VM sidecar is not installed: that is the tests'
 * and the demo's job; with the cluster, the Prometheus pods wait for the objstore Secret the stack makes). On
 * failure, whatever did start is stopped before the error is thrown. Needs root.
 */
export async function startGlobalViewSandbox(options: GlobalViewSandboxOptions = {}): Promise<GlobalViewSandbox> {
  const log = options.log ?? (() => undefined);
  const onCluster = options.kubernetes === "cluster";
  // Normalised as the stack config normalises it ("v0.42.4" is 0.42.4), so releases are found by the same text.
  const normalise = (text: string) => {
    const version = parseThanosVersion(text);
    if (!version) throw new Error(`not a Thanos version: ${text}`);
    return version.text;
  };
  // The stack's version and bucket are the committed file's: the sandbox is started to match it.
  const thanosVersion = committedThanosVersion();
  const versions = [...new Set([thanosVersion, ...(options.extraThanosVersions ?? []).map(normalise)])];
  const { bucket } = committedConfig().objstore as { bucket: string };
  const runDir = options.runDir ?? createRunDir("global-view");
  const registry = new ProcessRegistry();
  const since = Date.now();
  const step = (what: string) => log(`${what} (${((Date.now() - since) / 1000).toFixed(1)} s)`);
  const blockDuration = options.vmBlockDuration ?? "2h";
  const vmPrometheus: PrometheusOptions = {
    externalLabels: { cluster: VM_CLUSTER },
    minBlockDuration: blockDuration,
    maxBlockDuration: blockDuration,
    scrapeInterval: options.vmScrapeInterval ?? "5s",
  };
  const k8sLabels = (replica: string) => ({ cluster: K8S_CLUSTER, [REPLICA_LABEL]: replica });
  const startVm = (vmOptions: VmOptions) =>
    Vm.start({ ...vmOptions, prometheus: vmPrometheus }).then((started) => {
      registry.defer(`VM ${started.name}`, () => started.stop());
      return started;
    });

  try {
    const [releaseDirs, minioPath] = await settleAll<[string[], string]>([Promise.all(versions.map(thanosReleaseDir)), minioBinary()]);
    const releases = versions.map((version, i) => ({ version, dir: releaseDirs[i] }));
    step(`Thanos ${versions.join(", ")} and MinIO binaries ready`);

    let mirror: ThanosMirror;
    let minio: MinioServer;
    let vm: Vm;
    let kubernetes: KubernetesSide;
    if (onCluster) {
      const cluster = await startCluster({ runDir, registry, images: [...versions.map((v) => `thanos:${v}`), ...IN_CLUSTER_PROMETHEUS_IMAGES], log });
      step(`cluster up (API server ${cluster.apiServerUrl})`);
      // The VM and the pods reach the host on the bridge: the mirror and MinIO listen there.
      const networkNamespace = cluster.attachVmNetwork();
      [mirror, minio, vm] = await settleAll<[ThanosMirror, MinioServer, Vm]>([
        startThanosMirror({ releases, registry, host: HOST_ADDRESS }),
        startMinio({ binary: minioPath, runDir, registry, host: HOST_ADDRESS }),
        startVm({ address: VM_ADDRESS, networkNamespace, resolvConf: clusterResolvConf() }),
      ]);
      await minio.createBucket(bucket);
      step(`mirror ${mirror.baseUrl}, MinIO ${minio.endpoint}, VM ${vm.name} at ${vm.address} up`);
      const config = sandboxStackConfig(bootValuesOf(vm, minio, mirror, true));
      const { objstoreSecret, storeGateway, compactor } = parseStackConfig(asRawConfig(config), secretKeySet(SANDBOX_SECRET_KEYS)).kubernetes;
      if (objstoreSecret?.namespace !== PROMETHEUS_NAMESPACE) {
        throw new Error(`Pulumi.sandbox.yaml: kubernetes.objstoreSecret must be set, in namespace ${PROMETHEUS_NAMESPACE} where the Prometheus pods run`);
      }
      // The stack's StatefulSets claim volumes of the default class, and the cluster has no provisioner: one local
      // volume per claim, made beforehand as for the Prometheus pods.
      if (storeGateway.enabled && !storeGateway.storage.emptyDir) {
        const claims = storeGateway.replicas * Math.max(1, storeGateway.timePartitions.length);
        await cluster.createLocalVolumes(Array.from({ length: claims }, (_, i) => `${storeGateway.name}-${i}`), storeGateway.storage.size);
      }
      if (compactor.enabled && !compactor.storage.emptyDir) await cluster.createLocalVolumes([compactor.name], compactor.storage.size);
      const prometheus = await startInClusterPrometheus(cluster, {
        objstoreSecret,
        thanosVersion,
        externalLabels: { cluster: K8S_CLUSTER },
      });
      step(`prometheus-operator up, Prometheus ${prometheus.namespace}/${prometheus.name} (2 replicas) waiting for the stack's objstore Secret`);
      kubernetes = { kind: "cluster", cluster, prometheus };
    } else {
      let k8s0: HostPrometheus;
      let k8s1: HostPrometheus;
      [mirror, minio, vm, k8s0, k8s1] = await settleAll<[ThanosMirror, MinioServer, Vm, HostPrometheus, HostPrometheus]>([
        startThanosMirror({ releases, registry }),
        startMinio({ binary: minioPath, runDir, registry }),
        startVm({ address: options.vmAddress }),
        startHostPrometheus({ name: "prometheus-k8s-0", runDir, externalLabels: k8sLabels("0"), registry }),
        startHostPrometheus({ name: "prometheus-k8s-1", runDir, externalLabels: k8sLabels("1"), registry }),
      ]);
      step(`mirror ${mirror.baseUrl}, MinIO ${minio.endpoint}, VM ${vm.name} at ${vm.address}, Prometheus ${k8s0.address} and ${k8s1.address} up`);
      await minio.createBucket(bucket);
      await scrapeSameTarget(k8s1, k8s0, k8sLabels("1"));
      const sidecar = (prometheus: HostPrometheus) =>
        startSidecar({ binary: thanosBinary(releaseDirs[0]), name: prometheus.name.replace("prometheus", "sidecar"), runDir, prometheus, registry });
      const sidecars = await settleAll<[HostSidecar, HostSidecar]>([sidecar(k8s0), sidecar(k8s1)]);
      step(`host sidecars ${sidecars[0].grpcAddress} and ${sidecars[1].grpcAddress} ready`);
      kubernetes = { kind: "stand-ins", prometheus: [k8s0, k8s1], sidecars };
    }

    const bootValues = bootValuesOf(vm, minio, mirror, onCluster);
    // The addresses the stack itself reports for the VM sidecar.
    const exports = await runProgram(sandboxStackConfig(bootValues), SANDBOX_SECRET_KEYS, { stack: SANDBOX_STACK });
    const [vmGrpcAddress] = await valueOf(exports.vmSidecarGrpcAddresses as string[]);
    const [vmHttpAddress] = await valueOf(exports.vmSidecarHttpAddresses as string[]);
    return new GlobalViewSandbox(runDir, registry, mirror, minio, vm, vmPrometheus, kubernetes, releases, bootValues, vmGrpcAddress, `http://${vmHttpAddress}/-/ready`);
  } catch (error) {
    await registry.stopAll().catch((cleanup: Error) => {
      (error as Error).message += `\n(cleanup failed too: ${cleanup.message})`;
    });
    throw error;
  }
}
