// A typed driver for the real Pulumi engine against the sandbox: the CLI and plugins built by test/build/toolchain, a
// file backend and a passphrase of its own under a work directory (no cloud, no login), and the stack configuration
// as the committed Pulumi.<stack>.yaml plus the values that change with every boot (host key, ports, mirror URL,
// secrets) in a git-ignored copy passed with --config-file. The kubernetes provider finds the cluster through the
// KUBECONFIG its environment names (or, with kubernetes.renderYamlToDirectory, writes manifests: renderedManifests).
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { runCommand } from "../harness/command";
import { PROJECT } from "../../lib/project";
import { REPO_ROOT } from "../repo";
import { frontendSplitQueries, rangeQuery } from "./coldStorage";
import { startGlobalViewSandbox, type BucketHistory, type GlobalViewSandbox } from "./globalView";
import { SIDECAR_GRPC_PORT } from "./inClusterPrometheus";
import { bootConfig, type ConfigValues } from "./stackConfig";
import { freePorts, LOOPBACK } from "./ports";
import { runForStdout, waitFor, type ProcessRegistry } from "./process";
import { querierArgsOnHost, queryStores, startQuerier, thanosBinary, thanosReleaseDir, type HostThanos, type StoreStatus } from "./thanos";

/** A hung pulumi (e.g. an SSH dial that never gives up) is killed after this long. */
const COMMAND_TIMEOUT_MS = 15 * 60_000;

/**
 * The environment in which the toolchain's `pulumi` runs offline: this process' environment plus what
 * `eval "$(test/build/toolchain)"` exports. A cold cache builds the CLI and plugins first (minutes; progress on stderr).
 */
export async function toolchainEnv(): Promise<NodeJS.ProcessEnv> {
  // env -0 after the eval: whatever quoting the script uses, the shell has already undone it.
  const dump = await runForStdout("bash", ["-c", 'set -euo pipefail; exports=$(test/build/toolchain); eval "$exports"; env -0']);
  const env: NodeJS.ProcessEnv = {};
  for (const entry of dump.split("\0")) {
    const separator = entry.indexOf("=");
    if (separator > 0) env[entry.slice(0, separator)] = entry.slice(separator + 1);
  }
  return env;
}

export interface PulumiResult {
  /** The pulumi arguments, for error messages (secrets never travel as arguments). */
  args: string[];
  code: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** Where stdout and stderr were written. */
  logFile: string;
}

export interface RunOptions {
  stdin?: string;
  /** Resolve with a failing result instead of throwing. */
  allowFailure?: boolean;
  /** Each line of output as it arrives (e.g. a demo showing `pulumi up` live). */
  onLine?: (line: string) => void;
}

export interface PulumiStackOptions {
  /** Holds the backend, the runtime config copy and the logs; created if missing. */
  dir: string;
  /** From toolchainEnv(). */
  env: NodeJS.ProcessEnv;
  /** Default "sandbox". */
  stack?: string;
  /** The Pulumi project; default the repository. */
  projectDir?: string;
  /** Another stack's backend to share (a reader project's StackReference needs the same one). */
  backendDir?: string;
}

/**
 * One stack of one project, driven through the pulumi CLI. Every command gets `-s <stack>` and, when it reads config,
 * `--config-file <copy>`, so the committed Pulumi.<stack>.yaml is only ever read; each command's output is kept in a
 * numbered log file.
 */
export class PulumiStack {
  readonly stack: string;
  readonly projectDir: string;
  readonly dir: string;
  readonly backendDir: string;
  /** Generated: the stack lives as long as this object's owner (a test file, the demo's keeper). */
  readonly passphrase: string;
  /** The runtime copy of the stack's configuration (git-ignored: under dir). */
  readonly configFile: string;
  readonly logDir: string;
  private readonly shadowProject: string;
  private commandCount = 0;

  constructor(private readonly options: PulumiStackOptions) {
    this.stack = options.stack ?? "sandbox";
    this.projectDir = options.projectDir ?? REPO_ROOT;
    this.dir = options.dir;
    this.backendDir = options.backendDir ?? path.join(this.dir, "backend");
    this.passphrase = crypto.randomBytes(24).toString("base64url");
    // `pulumi stack init` has no --config-file: it writes the encryption salt into Pulumi.<stack>.yaml beside the
    // Pulumi.yaml it finds. Run it in a shadow project holding only a copy of Pulumi.yaml, whose stack file is
    // the runtime copy itself.
    this.shadowProject = path.join(this.dir, "project");
    this.configFile = path.join(this.shadowProject, `Pulumi.${this.stack}.yaml`);
    this.logDir = path.join(this.dir, "logs");
    for (const dir of [this.backendDir, this.shadowProject, this.logDir]) fs.mkdirSync(dir, { recursive: true });
  }

  /** The CLI's environment: the toolchain's, this stack's backend and passphrase, nothing from the user's login. */
  get env(): NodeJS.ProcessEnv {
    return {
      ...this.options.env,
      PULUMI_BACKEND_URL: `file://${this.backendDir}`,
      PULUMI_CONFIG_PASSPHRASE: this.passphrase,
      PULUMI_CONFIG_PASSPHRASE_FILE: undefined,
      PULUMI_ACCESS_TOKEN: undefined,
    };
  }

  /** The name another project's StackReference uses for this stack in a file backend. */
  get qualifiedName(): string {
    const project = (YAML.parse(fs.readFileSync(path.join(this.projectDir, "Pulumi.yaml"), "utf8")) as { name: string }).name;
    return `organization/${project}/${this.stack}`;
  }

  /**
   * Creates the stack with the committed Pulumi.<stack>.yaml (if the project has one) as the start of its runtime
   * configuration, then sets `values` (plain) and `secrets` (encrypted, passed on stdin).
   */
  async init(values: ConfigValues = {}, secrets: ConfigValues = {}): Promise<void> {
    fs.copyFileSync(path.join(this.projectDir, "Pulumi.yaml"), path.join(this.shadowProject, "Pulumi.yaml"));
    const committed = path.join(this.projectDir, `Pulumi.${this.stack}.yaml`);
    if (fs.existsSync(committed)) fs.copyFileSync(committed, this.configFile);
    await this.run(["stack", "init", this.stack, "--no-select", "--secrets-provider", "passphrase", "--cwd", this.shadowProject], {}, "stack-init");
    await this.setConfig(values);
    for (const [key, value] of Object.entries(secrets)) await this.setSecret(key, value);
  }

  /** `pulumi config set-all --path --plaintext key=value ...`. */
  async setConfig(values: ConfigValues): Promise<void> {
    const entries = Object.entries(values);
    if (entries.length === 0) return;
    await this.stackCommand(["config", "set-all", "--path", ...entries.flatMap(([key, value]) => ["--plaintext", `${key}=${value}`])], {}, "config");
  }

  /**
   * A whole configuration at once (keys without the project prefix, structured values), as Pulumi.<stack>.yaml
   * holds it, written into the runtime copy; the secrets set through the CLI, value on stdin, so that they are
   * encrypted with the stack's passphrase. Much faster than one `pulumi config set --path` per key of 100 VMs.
   */
  async setAllConfig(config: Record<string, unknown>, secrets: ConfigValues): Promise<void> {
    const file = YAML.parse(fs.readFileSync(this.configFile, "utf8")) as Record<string, unknown>;
    const plain = Object.entries(config).filter(([key]) => !(key in secrets));
    fs.writeFileSync(this.configFile, YAML.stringify({ ...file, config: Object.fromEntries(plain.map(([key, value]) => [`${PROJECT}:${key}`, value])) }));
    for (const [key, value] of Object.entries(secrets)) await this.setSecret(key, value);
  }

  /** `pulumi config set --secret <key>` with the value on stdin, so it never shows in a process list or log. */
  async setSecret(key: string, value: string): Promise<void> {
    await this.stackCommand(["config", "set", "--secret", key], { stdin: value }, "config-secret");
  }

  preview(extra: string[] = [], options: RunOptions = {}): Promise<PulumiResult> {
    return this.stackCommand(["preview", "--non-interactive", ...extra], options, "preview");
  }

  up(extra: string[] = [], options: RunOptions = {}): Promise<PulumiResult> {
    return this.stackCommand(["up", "--yes", "--non-interactive", "--skip-preview", ...extra], options, "up");
  }

  destroy(extra: string[] = [], options: RunOptions = {}): Promise<PulumiResult> {
    return this.stackCommand(["destroy", "--yes", "--non-interactive", "--skip-preview", ...extra], options, "destroy");
  }

  /** The stack's outputs (secrets stay "[secret]"). */
  async outputs(): Promise<Record<string, unknown>> {
    const result = await this.stackCommand(["stack", "output", "--json"], {}, "outputs");
    return JSON.parse(result.stdout) as Record<string, unknown>;
  }

  /** `pulumi stack export`, as text: secrets appear as ciphertext only. */
  async exportState(): Promise<string> {
    return (await this.stackCommand(["stack", "export"], {}, "export")).stdout;
  }

  /** The URNs of the stack's resources (the stack resource itself excluded). */
  async resourceUrns(): Promise<string[]> {
    const deployment = JSON.parse(await this.exportState()) as { deployment: { resources?: { urn: string; type: string }[] } };
    return (deployment.deployment.resources ?? []).filter((r) => r.type !== "pulumi:pulumi:Stack").map((r) => r.urn);
  }

  /** A command about this stack, run in the project with `-s`; those that read config get the runtime copy. */
  stackCommand(args: string[], options: RunOptions = {}, name = args[0]): Promise<PulumiResult> {
    const readsConfig = args[0] !== "stack";
    const config = readsConfig ? ["--config-file", this.configFile] : [];
    return this.run([...args, "--stack", this.stack, ...config, "--cwd", this.projectDir], options, name);
  }

  /** Runs `pulumi <args>`; throws with the output's tail unless it succeeds or allowFailure is set. */
  async run(args: string[], options: RunOptions = {}, name = args[0]): Promise<PulumiResult> {
    this.commandCount += 1;
    const logFile = path.join(this.logDir, `${String(this.commandCount).padStart(2, "0")}-${name}.log`);
    const ran = await runCommand("pulumi", ["--color", "never", ...args], {
      env: this.env,
      stdin: options.stdin,
      timeoutMs: COMMAND_TIMEOUT_MS,
      onLine: options.onLine,
    });
    const result: PulumiResult = { args, code: ran.code ?? -1, stdout: ran.stdout, stderr: ran.stderr, durationMs: ran.durationMs, logFile };
    fs.writeFileSync(logFile, `$ pulumi ${args.join(" ")}\n# exit ${ran.code ?? ran.signal} after ${ran.durationMs} ms\n--- stdout\n${ran.stdout}--- stderr\n${ran.stderr}`);
    if (ran.code === 0 || options.allowFailure) return result;
    const why = ran.signal ? `killed by ${ran.signal} after ${COMMAND_TIMEOUT_MS} ms` : `exit ${ran.code}`;
    throw new Error(`pulumi ${args.join(" ")}: ${why}; output in ${logFile}:\n${tailLines(`${ran.stdout}\n${ran.stderr}`, 40)}`);
  }
}

function tailLines(text: string, count: number): string {
  return text.trimEnd().split("\n").slice(-count).join("\n");
}

/** A Kubernetes object as the provider rendered it. */
export interface RenderedObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: unknown;
  /** The file it came from. */
  file: string;
}

/** Every object under `<renderDir>/0-crd` and `<renderDir>/1-manifest` (none when the directory is gone). */
export function renderedManifests(renderDir: string): RenderedObject[] {
  const objects: RenderedObject[] = [];
  for (const sub of ["0-crd", "1-manifest"]) {
    const dir = path.join(renderDir, sub);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      for (const document of YAML.parseAllDocuments(fs.readFileSync(file, "utf8"))) {
        const object = document.toJS() as Omit<RenderedObject, "file"> | null;
        if (object) objects.push({ ...object, file });
      }
    }
  }
  return objects;
}

interface DeploymentSpec {
  template: { spec: { containers: { name: string; image: string; args?: string[] }[] } };
}

/** The querier's Deployment name in the sandbox stack (kubernetes.querier.name's default). */
const QUERIER_DEPLOYMENT = "thanos-querier";

/** The querier container of the rendered Deployment: its image's Thanos version and its args. */
function renderedQuerier(renderDir: string): { version: string; args: string[] } {
  const deployment = renderedManifests(renderDir).find((object) => object.kind === "Deployment" && object.metadata.name === QUERIER_DEPLOYMENT);
  if (!deployment) throw new Error(`no Deployment ${QUERIER_DEPLOYMENT} rendered under ${renderDir}`);
  const container = (deployment.spec as DeploymentSpec).template.spec.containers[0];
  const version = /:v(\d+\.\d+\.\d+)$/.exec(container.image)?.[1];
  if (!version) throw new Error(`${deployment.file}: image ${container.image} names no Thanos release`);
  return { version, args: container.args ?? [] };
}

export interface RenderedQuerier extends HostThanos {
  /** The Thanos version of the rendered image, whose binary runs. */
  version: string;
  /** The args it runs with. */
  args: string[];
}

/**
 * Starts the querier the rendered Deployment describes, as a host process: the binary of the image's Thanos version
 * (test/build/build-thanos), the rendered args adapted by querierArgsOnHost. Stopped by the registry.
 */
export async function startRenderedQuerier(options: {
  renderDir: string;
  /** The in-cluster sidecars' stand-ins (host:port), dialled instead of the DNS-discovered Service. */
  discovered: readonly string[];
  runDir: string;
  registry: ProcessRegistry;
}): Promise<RenderedQuerier> {
  const rendered = renderedQuerier(options.renderDir);
  const [grpcPort, httpPort] = await freePorts(2);
  const args = querierArgsOnHost(rendered.args, {
    grpcAddress: `${LOOPBACK}:${grpcPort}`,
    httpAddress: `${LOOPBACK}:${httpPort}`,
    discovered: options.discovered,
  });
  const binary = thanosBinary(await thanosReleaseDir(rendered.version));
  const querier = await startQuerier(binary, args, { runDir: options.runDir, registry: options.registry });
  return { ...querier, version: rendered.version, args };
}

/** Waits until the querier lists exactly `addresses` as healthy stores (no error, labels known); their statuses. */
export function waitForQuerierStores(httpUrl: string, addresses: readonly string[]): Promise<StoreStatus[]> {
  const want = JSON.stringify([...addresses].sort());
  return waitFor(
    `the querier at ${httpUrl} to see ${addresses.join(", ")}`,
    async () => {
      const healthy = (await queryStores(httpUrl)).filter((store) => store.lastError === null && store.labelSets.length > 0);
      return JSON.stringify(healthy.map((store) => store.name).sort()) === want ? healthy : undefined;
    },
    2 * 60_000,
  );
}

/** What a range query found of the bucket's history. */
export interface HistoryPoints {
  /** From the history's start to now, a point every 30 minutes (Unix seconds). */
  range: { start: number; end: number; step: number };
  /** Points within the history's span, and how many series hold them (one, when the answer is right). */
  points: number;
  series: number;
}

/** Asks `httpUrl` (a querier, a query frontend, a Prometheus) for the seeded series over HistoryPoints.range. */
export async function historyPoints(httpUrl: string, history: BucketHistory): Promise<HistoryPoints> {
  const range = { start: history.startMs / 1000, end: Math.floor(Date.now() / 1000), step: 1800 };
  const inSpan = (values: [number, string][]) => values.filter(([t]) => t * 1000 >= history.startMs && t * 1000 < history.endMs).length;
  const found = (await rangeQuery(httpUrl, history.selector, range)).result.map((series) => inSpan(series.values)).filter((points) => points > 0);
  return { range, points: found.reduce((sum, points) => sum + points, 0), series: found.length };
}

/** What the stack's query frontend found of the bucket's history. */
export interface HistoryAnswer extends HistoryPoints {
  /** The query frontend pod asked, at its own address. */
  frontendUrl: string;
  /** The parts the frontend split its range queries into so far. */
  splitQueries: number;
  /** The same query asked of the VM's Prometheus itself, which started days after the history. */
  pointsInPrometheus: number;
}

/** Asks a Ready query frontend pod of the stack for the seeded history (historyPoints), and the VM's Prometheus. */
export async function historyThroughFrontend(sandbox: GlobalViewSandbox, history: BucketHistory): Promise<HistoryAnswer> {
  const { namespace, queryFrontend } = sandbox.parsedConfig().kubernetes;
  const [address] = await sandbox.cluster.readyPodAddresses(namespace, queryFrontend.name, "http");
  if (!address) throw new Error(`no Ready pod of ${namespace}/${queryFrontend.name}`);
  const frontendUrl = `http://${address}`;
  const answer = await historyPoints(frontendUrl, history);
  const inPrometheus = await historyPoints(sandbox.vm.prometheusUrl, history);
  return { ...answer, frontendUrl, splitQueries: await frontendSplitQueries(frontendUrl), pointsInPrometheus: inPrometheus.points };
}

/**
 * The gRPC addresses the stack's querier must list in the sandbox cluster: the VM sidecar, both Prometheus pods'
 * sidecars (found through the headless Service) and each Ready store gateway pod.
 */
export async function expectedQuerierStores(sandbox: GlobalViewSandbox): Promise<string[]> {
  const { namespace, storeGateway } = sandbox.parsedConfig().kubernetes;
  const prometheusPods = await sandbox.inClusterPrometheus.waitReady();
  const storeGateways = storeGateway.enabled ? await sandbox.cluster.readyPodAddresses(namespace, storeGateway.name, "grpc") : [];
  return [sandbox.vmGrpcAddress, ...prometheusPods.map((pod) => `${pod.ip}:${SIDECAR_GRPC_PORT}`), ...storeGateways];
}

export interface SandboxStack {
  sandbox: GlobalViewSandbox;
  stack: PulumiStack;
  /** What the sandbox seeded in the bucket before the stack ran (its store gateway serves it). */
  history: BucketHistory;
}

export interface StartSandboxStackOptions {
  env: NodeJS.ProcessEnv;
  /** The sandbox's run directory; default a fresh one under .sandbox/runs/. The stack lives in <runDir>/pulumi. */
  runDir?: string;
  /** More Thanos releases the mirror serves and the cluster has images of, for version changes. */
  extraThanosVersions?: readonly string[];
  /** The VM Prometheus' block duration (default 2h); a short one makes blocks within minutes. */
  vmBlockDuration?: string;
  log?: (line: string) => void;
}

/**
 * Starts the sandbox as Pulumi.sandbox.yaml describes it (the cluster, the VM on its network, the bucket, the Thanos
 * version) and creates the sandbox stack for it, configured with this boot's values; its pulumi processes get the
 * cluster's kubeconfig in their environment, as a user's would. Nothing is deployed yet. On failure everything
 * started is stopped again.
 */
export async function startSandboxStack(options: StartSandboxStackOptions): Promise<SandboxStack> {
  const sandbox = await startGlobalViewSandbox({
    kubernetes: "cluster",
    extraThanosVersions: options.extraThanosVersions,
    vmBlockDuration: options.vmBlockDuration,
    runDir: options.runDir,
    log: options.log,
  });
  try {
    const history = await sandbox.seedHistory();
    options.log?.(`seeded the bucket with ${history.blocks} blocks of ${history.selector}, ${new Date(history.startMs).toISOString()} to ${new Date(history.endMs).toISOString()}`);
    const stack = new PulumiStack({ dir: path.join(sandbox.runDir, "pulumi"), env: { ...options.env, ...sandbox.cluster.env } });
    const { plain, secrets } = bootConfig(sandbox.bootValues);
    await stack.init(plain, secrets);
    return { sandbox, stack, history };
  } catch (error) {
    await sandbox.stop();
    throw error;
  }
}
