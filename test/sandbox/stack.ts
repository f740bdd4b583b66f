// A typed driver for the real Pulumi engine against the sandbox: the CLI and plugins built by test/build/toolchain, a
// file backend and a passphrase of its own under a work directory (no cloud, no login), and the stack configuration
// as the committed Pulumi.<stack>.yaml plus the values that change with every boot (host key, ports, mirror URL,
// secrets) in a git-ignored copy passed with --config-file. It also reads what the kubernetes provider rendered and
// starts the querier from the rendered Deployment, as a cluster would.
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { REPO_ROOT } from "../repo";
import { PROJECT } from "../../lib/config";
import { startGlobalViewSandbox, type GlobalViewSandbox } from "./globalView";
import { freePorts, LOOPBACK } from "./ports";
import { runForStdout, waitFor, type ProcessRegistry } from "./process";
import { queryStores, startQuerier, thanosBinary, thanosReleaseDir, type HostThanos, type StoreStatus } from "./thanos";

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

export interface CommandResult {
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

/** Keys of Pulumi.<stack>.yaml's `config:` without the project prefix, e.g. "vms[0].hostKey" with --path. */
export type ConfigValues = Record<string, string>;

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

  /** `pulumi config set --secret <key>` with the value on stdin, so it never shows in a process list or log. */
  async setSecret(key: string, value: string): Promise<void> {
    await this.stackCommand(["config", "set", "--secret", key], { stdin: value }, "config-secret");
  }

  preview(extra: string[] = [], options: RunOptions = {}): Promise<CommandResult> {
    return this.stackCommand(["preview", "--non-interactive", ...extra], options, "preview");
  }

  up(extra: string[] = [], options: RunOptions = {}): Promise<CommandResult> {
    return this.stackCommand(["up", "--yes", "--non-interactive", "--skip-preview", ...extra], options, "up");
  }

  destroy(extra: string[] = [], options: RunOptions = {}): Promise<CommandResult> {
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
  stackCommand(args: string[], options: RunOptions = {}, name = args[0]): Promise<CommandResult> {
    const readsConfig = args[0] !== "stack";
    const config = readsConfig ? ["--config-file", this.configFile] : [];
    return this.run([...args, "--stack", this.stack, ...config, "--cwd", this.projectDir], options, name);
  }

  /** Runs `pulumi <args>`; throws with the output's tail unless it succeeds or allowFailure is set. */
  run(args: string[], options: RunOptions = {}, name = args[0]): Promise<CommandResult> {
    this.commandCount += 1;
    const logFile = path.join(this.logDir, `${String(this.commandCount).padStart(2, "0")}-${name}.log`);
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const child = spawn("pulumi", ["--color", "never", ...args], { env: this.env, stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      let pending = "";
      const collect = (stream: "stdout" | "stderr") => (chunk: string) => {
        if (stream === "stdout") stdout += chunk;
        else stderr += chunk;
        if (!options.onLine) return;
        pending += chunk;
        const lines = pending.split("\n");
        pending = lines.pop()!;
        for (const line of lines) options.onLine(line);
      };
      child.stdout.setEncoding("utf8").on("data", collect("stdout"));
      child.stderr.setEncoding("utf8").on("data", collect("stderr"));
      const timer = setTimeout(() => child.kill("SIGKILL"), COMMAND_TIMEOUT_MS);
      child.on("error", (error) => {
        clearTimeout(timer);
        reject(new Error(`pulumi could not be started (is the toolchain's bin on PATH?): ${error.message}`));
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        if (pending && options.onLine) options.onLine(pending);
        const result: CommandResult = { args, code: code ?? -1, stdout, stderr, durationMs: Date.now() - started, logFile };
        fs.writeFileSync(logFile, `$ pulumi ${args.join(" ")}\n# exit ${code ?? signal} after ${result.durationMs} ms\n--- stdout\n${stdout}--- stderr\n${stderr}`);
        if (code === 0 || options.allowFailure) return resolve(result);
        const why = signal ? `killed by ${signal} after ${COMMAND_TIMEOUT_MS} ms` : `exit ${code}`;
        reject(new Error(`pulumi ${args.join(" ")}: ${why}; output in ${logFile}:\n${tailLines(`${stdout}\n${stderr}`, 40)}`));
      });
      child.stdin.on("error", () => undefined);
      child.stdin.end(options.stdin ?? "");
    });
  }
}

function tailLines(text: string, count: number): string {
  return text.trimEnd().split("\n").slice(-count).join("\n");
}

/** The per-boot values of the sandbox stack: what Pulumi.sandbox.yaml cannot hold because each boot differs. */
interface SandboxBootValues {
  /** The VM's pinned ed25519 host key, "ssh-ed25519 AAAA...". */
  vmHostKey: string;
  /** The OpenSSH private key the VM authorizes for root. */
  sshPrivateKey: string;
  /** MinIO's host:port. */
  objstoreEndpoint: string;
  objstoreAccessKey: string;
  objstoreSecretKey: string;
  /** The release mirror's URL templates. */
  thanosUrlTemplate: string;
  thanosSha256sumsUrlTemplate: string;
  /** Where the kubernetes provider writes the manifests. */
  renderDir: string;
}

/** The sandbox stack's runtime configuration: plain values set with --path, and the two secrets. */
function sandboxConfig(values: SandboxBootValues): { plain: ConfigValues; secrets: ConfigValues } {
  return {
    plain: {
      "vms[0].hostKey": values.vmHostKey,
      "objstore.endpoint": values.objstoreEndpoint,
      "objstore.accessKey": values.objstoreAccessKey,
      "thanosDownload.urlTemplate": values.thanosUrlTemplate,
      "thanosDownload.sha256sumsUrlTemplate": values.thanosSha256sumsUrlTemplate,
      "kubernetes.renderYamlToDirectory": values.renderDir,
    },
    secrets: { sshPrivateKey: values.sshPrivateKey, objstoreSecretKey: values.objstoreSecretKey },
  };
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

const DNS_DISCOVERY = /^dns(srv)?\+/;

/**
 * The rendered querier args for a host process: the listen addresses moved to the given loopback addresses and each
 * DNS-discovered endpoint (the in-cluster sidecar Service, which no DNS here resolves) replaced by the addresses of
 * the pods it stands for. Nothing else changes; in the sd-config form the YAML is re-rendered with the same entries.
 */
function hostQuerierArgs(
  args: readonly string[],
  replace: { grpcAddress: string; httpAddress: string; discovered: readonly string[] },
): string[] {
  const seen = new Set<string>();
  const out = args.flatMap((arg): string[] => {
    const [flag, ...rest] = arg.split("=");
    const value = rest.join("=");
    if (flag === "--grpc-address" || flag === "--http-address") {
      seen.add(flag);
      return [`${flag}=${flag === "--grpc-address" ? replace.grpcAddress : replace.httpAddress}`];
    }
    if (flag === "--endpoint" && DNS_DISCOVERY.test(value)) return replace.discovered.map((address) => `--endpoint=${address}`);
    if (flag === "--endpoint.sd-config") {
      const config = YAML.parse(value) as { endpoints: ({ address: string } & Record<string, unknown>)[] };
      const endpoints = config.endpoints.flatMap((entry) =>
        DNS_DISCOVERY.test(entry.address) ? replace.discovered.map((address) => ({ ...entry, address })) : [entry],
      );
      return [`--endpoint.sd-config=${YAML.stringify({ ...config, endpoints }, { lineWidth: 0 })}`];
    }
    return [arg];
  });
  if (seen.size !== 2) throw new Error(`the rendered querier args lack --grpc-address or --http-address: ${args.join(" ")}`);
  return out;
}

/** The endpoints a querier command line dials, in either form (flags or sd-config). */
export function querierArgEndpoints(args: readonly string[]): string[] {
  return args.flatMap((arg) => {
    if (arg.startsWith("--endpoint=")) return [arg.slice("--endpoint=".length)];
    if (arg.startsWith("--endpoint.sd-config=")) {
      return (YAML.parse(arg.slice("--endpoint.sd-config=".length)) as { endpoints: { address: string }[] }).endpoints.map((e) => e.address);
    }
    return [];
  });
}

export interface RenderedQuerier extends HostThanos {
  /** The Thanos version of the rendered image, whose binary runs. */
  version: string;
  /** The args it runs with. */
  args: string[];
}

/**
 * Starts the querier the rendered Deployment describes, as a host process: the binary of the image's Thanos version
 * (test/build/build-thanos), the rendered args adapted by hostQuerierArgs. Stopped by the registry.
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
  const args = hostQuerierArgs(rendered.args, {
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

/** What the committed Pulumi.sandbox.yaml fixes about the sandbox itself, so the sandbox is started to match it. */
export function committedSandboxSettings(): { thanosVersion: string; vmAddress: string; bucket: string } {
  const file = path.join(REPO_ROOT, "Pulumi.sandbox.yaml");
  const config = (YAML.parse(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> }).config;
  const vms = config[`${PROJECT}:vms`] as { host: string }[];
  const objstore = config[`${PROJECT}:objstore`] as { bucket: string };
  return { thanosVersion: String(config[`${PROJECT}:thanosVersion`]), vmAddress: vms[0].host, bucket: objstore.bucket };
}

export interface SandboxStack {
  sandbox: GlobalViewSandbox;
  stack: PulumiStack;
  /** Where the kubernetes provider writes the manifests (kubernetes.renderYamlToDirectory). */
  renderDir: string;
}

export interface StartSandboxStackOptions {
  env: NodeJS.ProcessEnv;
  /** The sandbox's run directory; default a fresh one under .sandbox/runs/. The stack lives in <runDir>/pulumi. */
  runDir?: string;
  /** More Thanos releases the mirror serves, for version changes. */
  extraThanosVersions?: readonly string[];
  /** The VM Prometheus' block duration (default 2h); a short one makes blocks within minutes. */
  vmBlockDuration?: string;
  log?: (line: string) => void;
}

/**
 * Starts the sandbox as Pulumi.sandbox.yaml describes it (VM address, bucket, Thanos version) and creates the
 * sandbox stack for it, configured with this boot's values. Nothing is deployed yet. On failure everything started
 * is stopped again.
 */
export async function startSandboxStack(options: StartSandboxStackOptions): Promise<SandboxStack> {
  const settings = committedSandboxSettings();
  const sandbox = await startGlobalViewSandbox({
    thanosVersion: settings.thanosVersion,
    extraThanosVersions: options.extraThanosVersions,
    vmAddress: settings.vmAddress,
    bucket: settings.bucket,
    vmBlockDuration: options.vmBlockDuration,
    runDir: options.runDir,
    log: options.log,
  });
  try {
    const stack = new PulumiStack({ dir: path.join(sandbox.runDir, "pulumi"), env: options.env });
    const renderDir = path.join(stack.dir, "rendered");
    const { plain, secrets } = sandboxConfig({
      vmHostKey: sandbox.vm.hostKey,
      sshPrivateKey: sandbox.vm.privateKey,
      objstoreEndpoint: sandbox.minio.endpoint,
      objstoreAccessKey: sandbox.minio.accessKey,
      objstoreSecretKey: sandbox.minio.secretKey,
      thanosUrlTemplate: sandbox.mirror.urlTemplate,
      thanosSha256sumsUrlTemplate: sandbox.mirror.sha256sumsUrlTemplate,
      renderDir,
    });
    await stack.init(plain, secrets);
    return { sandbox, stack, renderDir };
  } catch (error) {
    await sandbox.stop();
    throw error;
  }
}
