// The whole global view on one machine, for the system tests, the e2e tests and `make sandbox`: a Thanos release
// mirror, MinIO with a bucket, the sandbox VM (Debian's Prometheus under systemd, reached over SSH) and two host
// Prometheus replicas with sidecars standing in for the in-cluster pods. The stack's configuration is built from the
// sandbox's addresses and parsed by the project's own schema, so the VM commands, their stdin payload and the
// querier's arguments come from the same functions the components call, not from copies.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { PER_DIAL_TIMEOUT_SECONDS } from "../../components/vmSidecar";
import { joinHostPort, sidecarReadyUrl } from "../../lib/address";
import { parseStackConfig, PROJECT, type StackConfig, type VmConfig } from "../../lib/config";
import { querierEndpoints } from "../../lib/endpoints";
import type { ObjstoreSettings } from "../../lib/objstore";
import { querierArgs } from "../../lib/querier";
import { DEFAULT_THANOS_VERSION, parseThanosVersion } from "../../lib/thanosVersion";
import { vmSidecarCommands, type VmSidecarCommands } from "../../lib/vm/commands";
import { UNIT_NAME } from "../../lib/vm/paths";
import { sidecarSecrets, vmSidecarPayload } from "../../lib/vm/payload";
import { startThanosMirror, type ThanosMirror, type ThanosRelease } from "./mirror";
import { minioBinary, startMinio, type MinioServer } from "./minio";
import { freePorts, httpRequest, LOOPBACK } from "./ports";
import { createRunDir, ProcessRegistry } from "./process";
import { renderPrometheusConfig, startHostPrometheus, type HostPrometheus } from "./prometheus";
import { startQuerier, startSidecar, thanosBinary, thanosReleaseDir, type HostSidecar, type HostThanos } from "./thanos";
import { PROMETHEUS_DATA_DIR, runSsh, Vm, type PrometheusOptions } from "./vm";

export const VM_CLUSTER = "prom_vm";
export const K8S_CLUSTER = "prom_k8s";
export const REPLICA_LABEL = "prometheus_replica";
/** The stack name in the sandbox's ownership tokens. */
export const SANDBOX_STACK = "sandbox";

/**
 * The component's SSH dial timeout (`perDialTimeout`, seconds), so a command to an unreachable VM fails here after the
 * time one of the provider's dials takes.
 */
export const SSH_CONNECT_TIMEOUT_SECONDS = PER_DIAL_TIMEOUT_SECONDS;

export interface GlobalViewSandboxOptions {
  /** The stack's thanosVersion (VM sidecar and querier); default the stack's default. */
  thanosVersion?: string;
  /** More releases the mirror serves (upgrades, fault tests). Each is built by test/build/build-thanos unless cached. */
  extraThanosVersions?: readonly string[];
  /** The VM's loopback address; default 127.0.0.2. */
  vmAddress?: string;
  /** The VM's name in the stack config; default "prom-vm". */
  vmName?: string;
  /** VM Prometheus block duration, used for min and max (the sidecar needs them equal); short ones make blocks soon. Default "2h". */
  vmBlockDuration?: string;
  /** VM Prometheus scrape interval; default "5s". */
  vmScrapeInterval?: string;
  /** The VM entry's readyTimeoutSeconds; default 60. */
  readyTimeoutSeconds?: number;
  /** Default "thanos". */
  bucket?: string;
  /** Default: a fresh `.sandbox/runs/global-view-*` directory. */
  runDir?: string;
  /** Progress lines (what starts, how long it took). */
  log?: (line: string) => void;
}

/** A change to the VM entry, as a later `pulumi up` would bring it. */
export interface VmChange {
  settings?: Partial<VmConfig>;
  /** Another stack thanosVersion for the VM sidecar; the mirror must serve it (extraThanosVersions). */
  thanosVersion?: string;
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

/** A block's meta.json as the Thanos shipper writes it (the fields the tests read). */
export interface BlockMeta {
  ulid: string;
  minTime: number;
  maxTime: number;
  thanos: { labels: Record<string, string>; source: string };
}

export interface BucketBlock {
  ulid: string;
  meta: BlockMeta;
  /** When meta.json was written, per MinIO (the shipper writes it last). */
  uploadedAt: Date;
}

/** The sandbox's stack configuration as `pulumi.runtime.allConfig()` returns it, and which keys are secret. */
interface SandboxConfigValues {
  values: Record<string, string>;
  secretKeys: string[];
}

const BLOCK_ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** Awaits every promise, then throws the first failure: nothing is still starting when the caller cleans up. */
async function settleAll<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((result): result is PromiseRejectedResult => result.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

export class GlobalViewSandbox {
  /** The sidecar's address for the querier (the VM entry's advertise address and gRPC port). */
  readonly vmGrpcAddress: string;
  /** The VM sidecar's readiness URL (the VM shares the host's network). */
  readonly vmReadyUrl: string;
  /** Holds every VM command's result (never stdin): the secret test searches it with the logs. */
  readonly transcriptFile: string;
  private readonly sent: string[] = [];
  private stopping: Promise<void> | undefined;

  constructor(
    readonly runDir: string,
    readonly registry: ProcessRegistry,
    readonly mirror: ThanosMirror,
    readonly minio: MinioServer,
    readonly bucket: string,
    readonly vm: Vm,
    /** The VM's Prometheus settings as started (what restoreVmPrometheus puts back). */
    readonly vmPrometheus: PrometheusOptions,
    /** The in-cluster stand-ins: replicas "0" and "1". */
    readonly k8sPrometheus: readonly [HostPrometheus, HostPrometheus],
    readonly k8sSidecars: readonly [HostSidecar, HostSidecar],
    /** Release directories by version, as the mirror serves them. */
    readonly releases: readonly ThanosRelease[],
    readonly config: StackConfig,
  ) {
    const entry = this.vmEntry;
    this.vmGrpcAddress = joinHostPort(vmHost(entry.advertiseAddress ?? entry.host), entry.grpcPort);
    this.vmReadyUrl = sidecarReadyUrl(entry.bindAddress, entry.httpPort);
    this.transcriptFile = path.join(runDir, "logs", "vm-commands.log");
  }

  private get vmEntry(): VmConfig {
    return this.config.vms[0];
  }

  /** The object-store secret key (the stack's objstoreSecretKey). */
  get secretKey(): string {
    return this.config.objstoreSecretKey;
  }

  /** The objstore settings the component gets (the stack's objstore section without createBucket). */
  get objstoreSettings(): ObjstoreSettings {
    const { bucket, endpoint, insecure, accessKey, region, prefix } = this.config.objstore;
    return { bucket, endpoint, insecure, accessKey, region, prefix };
  }

  /** The VM entry the VmSidecar component gets from index.ts, with a change applied. */
  vmConfig(change: VmChange = {}): VmConfig {
    return { ...this.vmEntry, ...change.settings };
  }

  /** The command strings the component hands to the command provider for the VM entry. */
  vmCommands(change: VmChange = {}): VmSidecarCommands {
    const vm = this.vmConfig(change);
    const thanosVersion = change.thanosVersion === undefined ? this.config.thanosVersion : parseThanosVersion(change.thanosVersion);
    if (!thanosVersion) throw new Error(`not a Thanos version: ${change.thanosVersion}`);
    return vmSidecarCommands(vm, vmHost(vm.host), {
      thanosVersion,
      thanosDownload: this.config.thanosDownload,
      tls: this.config.tls !== undefined,
      owner: { project: PROJECT, stack: SANDBOX_STACK },
    });
  }

  /** The component's secret stdin: objstore config and the values to redact. */
  vmPayload(): string {
    return vmSidecarPayload(sidecarSecrets(this.objstoreSettings, this.secretKey));
  }

  /** The install (create and update) command over SSH, with the payload on stdin. */
  install(change: VmChange = {}, options: Omit<RunOnVmOptions, "stdin"> = {}): Promise<VmCommandResult> {
    // A failed change waits for the new sidecar, then for the restored one.
    const timeoutMs = options.timeoutMs ?? (2 * this.vmConfig(change).readyTimeoutSeconds + 120) * 1000;
    return this.runOnVm("install", this.vmCommands(change).install, { ...options, timeoutMs, stdin: this.vmPayload() });
  }

  preflight(change: VmChange = {}): Promise<VmCommandResult> {
    return this.runOnVm("preflight", this.vmCommands(change).preflight);
  }

  /** The delete command (what `pulumi destroy` runs). */
  uninstall(change: VmChange = {}): Promise<VmCommandResult> {
    return this.runOnVm("delete", this.vmCommands(change).delete);
  }

  /**
   * Runs a command on the VM over a real SSH session, as the command provider would: one dial with the component's
   * connect timeout, the pinned host key, the generated client key. Resolves with ssh's exit code; the result (not
   * stdin) is appended to the transcript.
   */
  async runOnVm(name: string, command: string, options: RunOnVmOptions = {}): Promise<VmCommandResult> {
    this.sent.push(command);
    const started = Date.now();
    const { code, stdout, stderr } = await runSsh(this.sshArgs(options.target), command, { stdin: options.stdin, timeoutMs: options.timeoutMs });
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

  /** Every block in the bucket with its meta.json; blocks still being uploaded (no meta.json yet) are left out. */
  async bucketBlocks(): Promise<BucketBlock[]> {
    const metas = (await this.minio.listObjects(this.bucket)).filter((object) => /^[0-9A-Z]{26}\/meta\.json$/.test(object.key));
    return Promise.all(
      metas.map(async (object) => {
        const meta = JSON.parse((await this.minio.getObject(this.bucket, object.key)).toString("utf8")) as BlockMeta;
        return { ulid: object.key.slice(0, 26), meta, uploadedAt: new Date(object.lastModified) };
      }),
    );
  }

  /** Restarts the VM's Prometheus with the start settings changed by `overrides` (e.g. unequal block durations). */
  reconfigureVmPrometheus(overrides: PrometheusOptions, options?: { waitReady?: boolean }): Promise<void> {
    return this.vm.reconfigurePrometheus({ ...this.vmPrometheus, ...overrides }, options);
  }

  restoreVmPrometheus(): Promise<void> {
    return this.vm.reconfigurePrometheus(this.vmPrometheus);
  }

  /**
   * The querier's command line exactly as the Querier component renders it for the sandbox's stack config, except
   * that it listens on loopback ports instead of the container's 0.0.0.0.
   */
  async querierArgs(): Promise<string[]> {
    const [grpcPort, httpPort] = await freePorts(2);
    const querier = this.config.kubernetes.querier;
    return querierArgs({
      version: this.config.thanosVersion,
      logLevel: querier.logLevel,
      grpcAddress: `${LOOPBACK}:${grpcPort}`,
      httpAddress: `${LOOPBACK}:${httpPort}`,
      replicaLabels: querier.replicaLabels,
      infoTimeout: querier.infoTimeout,
      endpoints: querierEndpoints(this.config, [this.vmGrpcAddress]),
    });
  }

  /** Starts `thanos <args>` with the stack version's binary; stopped by stop(). */
  startQuerier(args: readonly string[], name = "querier"): Promise<HostThanos> {
    const release = this.releases.find((r) => r.version === this.config.thanosVersion.text)!;
    return startQuerier(thanosBinary(release.dir), args, { runDir: this.runDir, name, registry: this.registry });
  }

  /** Stops everything the sandbox started, newest first, the VM included; safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= this.registry.stopAll();
    return this.stopping;
  }

  /** vm.sshArgs() with the component's connect timeout, optionally to another host and port. */
  private sshArgs(target?: { host: string; port: number }): string[] {
    const args = this.vm.sshArgs();
    const destination = args.pop()!;
    const adjusted = args.map((arg, i) => {
      if (arg.startsWith("ConnectTimeout=")) return `ConnectTimeout=${SSH_CONNECT_TIMEOUT_SECONDS}`;
      if (target && args[i - 1] === "-p") return String(target.port);
      return arg;
    });
    return [...adjusted, target ? `${this.vm.user}@${target.host}` : destination];
  }
}

/** The sandbox's VM hosts are literal addresses, never other stacks' outputs. */
function vmHost(host: VmConfig["host"]): string {
  if (typeof host !== "string") throw new Error("the sandbox's VM host must be a literal address");
  return host;
}

/** The stack configuration for the sandbox: its VM, MinIO and mirror, and the two host sidecars as extra endpoints. */
function sandboxStackConfig(input: {
  thanosVersion: string;
  mirror: ThanosMirror;
  minio: MinioServer;
  bucket: string;
  vm: Vm;
  vmName: string;
  readyTimeoutSeconds: number;
  k8sSidecars: readonly HostSidecar[];
}): SandboxConfigValues {
  const key = (name: string) => `${PROJECT}:${name}`;
  const { vm } = input;
  return {
    values: {
      [key("thanosVersion")]: input.thanosVersion,
      [key("thanosDownload")]: JSON.stringify({
        urlTemplate: input.mirror.urlTemplate,
        sha256sumsUrlTemplate: input.mirror.sha256sumsUrlTemplate,
      }),
      [key("kubernetes")]: JSON.stringify({
        // The in-cluster sidecars are host processes here: no Service to discover them, plain addresses instead.
        sidecarService: { enabled: false },
        querier: { replicaLabels: [REPLICA_LABEL], extraEndpoints: input.k8sSidecars.map((sidecar) => sidecar.grpcAddress) },
      }),
      [key("vms")]: JSON.stringify([
        {
          name: input.vmName,
          host: vm.address,
          port: vm.sshPort,
          user: vm.user,
          hostKey: vm.hostKey,
          prometheusUrl: vm.prometheusUrl,
          tsdbPath: PROMETHEUS_DATA_DIR,
          // nspawn shares the host's network: the sidecar must keep to the VM's own address.
          bindAddress: vm.address,
          readyTimeoutSeconds: input.readyTimeoutSeconds,
        },
      ]),
      [key("sshPrivateKey")]: vm.privateKey,
      [key("objstore")]: JSON.stringify(input.minio.objstoreSettings(input.bucket)),
      [key("objstoreSecretKey")]: input.minio.secretKey,
    },
    secretKeys: [key("sshPrivateKey"), key("objstoreSecretKey")],
  };
}

/** Makes replica `replica` scrape what `primary` scrapes, so the two differ only in their replica label. */
async function scrapeSameTarget(replica: HostPrometheus, primary: HostPrometheus, externalLabels: Record<string, string>): Promise<void> {
  fs.writeFileSync(replica.configFile, renderPrometheusConfig({ externalLabels, scrapeInterval: "2s", selfTarget: primary.address }));
  const response = await httpRequest({ method: "POST", url: `${replica.url}/-/reload` });
  if (response.status !== 200) throw new Error(`reloading ${replica.name}: HTTP ${response.status}: ${response.body.toString("utf8")}`);
}

/**
 * Starts the sandbox and resolves once everything answers (the VM sidecar is not installed: that is the tests'
 * and the demo's job). On failure, whatever did start is stopped before the error is thrown. Needs root.
 */
export async function startGlobalViewSandbox(options: GlobalViewSandboxOptions = {}): Promise<GlobalViewSandbox> {
  const log = options.log ?? (() => undefined);
  // Normalised as the stack config normalises it ("v0.42.4" is 0.42.4), so releases are found by the same text.
  const normalise = (text: string) => {
    const version = parseThanosVersion(text);
    if (!version) throw new Error(`not a Thanos version: ${text}`);
    return version.text;
  };
  const thanosVersion = normalise(options.thanosVersion ?? DEFAULT_THANOS_VERSION);
  const versions = [...new Set([thanosVersion, ...(options.extraThanosVersions ?? []).map(normalise)])];
  const bucket = options.bucket ?? "thanos";
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

  try {
    const [releaseDirs, minioPath] = await settleAll<[string[], string]>([Promise.all(versions.map(thanosReleaseDir)), minioBinary()]);
    const releases = versions.map((version, i) => ({ version, dir: releaseDirs[i] }));
    const sidecarBinary = thanosBinary(releaseDirs[0]);
    step(`Thanos ${versions.join(", ")} and MinIO binaries ready`);

    const [mirror, minio, vm, k8s0, k8s1] = await settleAll<[ThanosMirror, MinioServer, Vm, HostPrometheus, HostPrometheus]>([
      startThanosMirror({ releases, registry }),
      startMinio({ binary: minioPath, runDir, registry }),
      Vm.start({ address: options.vmAddress, prometheus: vmPrometheus }).then((started) => {
        registry.defer(`VM ${started.name}`, () => started.stop());
        return started;
      }),
      startHostPrometheus({ name: "prometheus-k8s-0", runDir, externalLabels: k8sLabels("0"), registry }),
      startHostPrometheus({ name: "prometheus-k8s-1", runDir, externalLabels: k8sLabels("1"), registry }),
    ]);
    step(`mirror ${mirror.baseUrl}, MinIO ${minio.endpoint}, VM ${vm.name} at ${vm.address}, Prometheus ${k8s0.address} and ${k8s1.address} up`);

    await minio.createBucket(bucket);
    await scrapeSameTarget(k8s1, k8s0, k8sLabels("1"));
    const sidecar = (prometheus: HostPrometheus) =>
      startSidecar({ binary: sidecarBinary, name: prometheus.name.replace("prometheus", "sidecar"), runDir, prometheus, registry });
    const k8sSidecars = await settleAll<[HostSidecar, HostSidecar]>([sidecar(k8s0), sidecar(k8s1)]);
    step(`host sidecars ${k8sSidecars[0].grpcAddress} and ${k8sSidecars[1].grpcAddress} ready`);

    const rawConfig = sandboxStackConfig({
      thanosVersion,
      mirror,
      minio,
      bucket,
      vm,
      vmName: options.vmName ?? "prom-vm",
      readyTimeoutSeconds: options.readyTimeoutSeconds ?? 60,
      k8sSidecars,
    });
    const config = parseStackConfig(rawConfig.values, new Set(rawConfig.secretKeys));
    return new GlobalViewSandbox(runDir, registry, mirror, minio, bucket, vm, vmPrometheus, [k8s0, k8s1], k8sSidecars, releases, config);
  } catch (error) {
    await registry.stopAll().catch((cleanup: Error) => {
      (error as Error).message += `\n(cleanup failed too: ${cleanup.message})`;
    });
    throw error;
  }
}
