// Debian's Prometheus as a host process, standing in for the in-cluster Prometheus pods (and their replicas): a generated
// config with the given external labels that scrapes itself, its own TSDB directory, loopback only. Block durations are
// parameters because Thanos uploads need min = max and the fault tests need them to differ.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { freePort, LOOPBACK } from "./ports";
import { startUntilReady, type ManagedProcess, type ProcessRegistry } from "./process";

export const DEBIAN_PROMETHEUS = "/usr/bin/prometheus";
const POLICY_RC_D = "/usr/sbin/policy-rc.d";

/**
 * Installs Debian's prometheus package if its binary is missing, and returns the binary. The package's own service
 * would listen on 0.0.0.0:9090: a temporary policy-rc.d keeps maintainer scripts from starting it, and it is disabled
 * afterwards so it never starts later either. Needs root.
 */
export function ensurePrometheusInstalled(): string {
  if (fs.existsSync(DEBIAN_PROMETHEUS)) return DEBIAN_PROMETHEUS;
  const ownPolicy = !fs.existsSync(POLICY_RC_D);
  // Exit code 101 means "action forbidden" to invoke-rc.d and deb-systemd-invoke.
  if (ownPolicy) fs.writeFileSync(POLICY_RC_D, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    const apt = (...args: string[]) =>
      execFileSync("apt-get", ["-o", "DPkg::Lock::Timeout=300", ...args], {
        env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
        stdio: ["ignore", "pipe", "pipe"],
        timeout: 10 * 60_000,
      });
    const install = () => apt("install", "-y", "--no-install-recommends", "prometheus");
    try {
      install();
    } catch {
      // A fresh machine may have no package lists yet.
      apt("update");
      install();
    }
  } finally {
    if (ownPolicy) fs.rmSync(POLICY_RC_D, { force: true });
  }
  disablePackagedService();
  return DEBIAN_PROMETHEUS;
}

function disablePackagedService(): void {
  if (fs.existsSync("/run/systemd/system")) {
    execFileSync("systemctl", ["disable", "--now", "prometheus.service"], { stdio: "ignore" });
  } else if (fs.existsSync("/etc/init.d/prometheus")) {
    execFileSync("update-rc.d", ["prometheus", "disable"], { stdio: "ignore" });
  }
}

export interface PrometheusConfigInput {
  /** `null` or `{}`: no external labels (the sidecar must refuse that). */
  externalLabels: Record<string, string> | null;
  scrapeInterval: string;
  /** host:port of this Prometheus, which scrapes itself. */
  selfTarget: string;
}

/** The job of a sandbox Prometheus scraping itself (its `up` series). */
export const SELF_SCRAPE_JOB = "prometheus";

export function renderPrometheusConfig(input: PrometheusConfigInput): string {
  const labels = input.externalLabels ?? {};
  return stringify({
    global: {
      scrape_interval: input.scrapeInterval,
      evaluation_interval: input.scrapeInterval,
      ...(Object.keys(labels).length > 0 ? { external_labels: labels } : {}),
    },
    scrape_configs: [{ job_name: SELF_SCRAPE_JOB, static_configs: [{ targets: [input.selfTarget] }] }],
  });
}

export interface StartPrometheusOptions {
  /** Names the log (`<runDir>/logs/<name>.log`) and the directory of config and TSDB (`<runDir>/<name>/`). */
  name: string;
  runDir: string;
  externalLabels: Record<string, string> | null;
  /** Default "2h". */
  minBlockDuration?: string;
  /** Default "2h". */
  maxBlockDuration?: string;
  /** Default "2s", so `up` has samples soon after start. */
  scrapeInterval?: string;
  /** Default: a free port. */
  port?: number;
  /** Default: Debian's, installed on demand. */
  binary?: string;
  extraArgs?: readonly string[];
  readyTimeoutMs?: number;
  registry?: ProcessRegistry;
}

export class HostPrometheus {
  readonly address: string;
  readonly url: string;
  readonly configFile: string;
  readonly tsdbDir: string;
  readonly logFile: string;
  private current: ManagedProcess | undefined;

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly binary: string,
    private readonly args: readonly string[],
    runDir: string,
    private readonly registry: ProcessRegistry | undefined,
    private readonly readyTimeoutMs: number,
  ) {
    this.address = `${LOOPBACK}:${port}`;
    this.url = `http://${this.address}`;
    const home = path.join(runDir, name);
    this.configFile = path.join(home, "prometheus.yml");
    this.tsdbDir = path.join(home, "tsdb");
    this.logFile = path.join(runDir, "logs", `${name}.log`);
  }

  get process(): ManagedProcess | undefined {
    return this.current;
  }

  /** Starts it (again, on the same TSDB and port) and waits for /-/ready. */
  async start(): Promise<void> {
    if (this.current?.running) return;
    this.current = await startUntilReady(
      {
        name: this.name,
        command: this.binary,
        args: [`--config.file=${this.configFile}`, `--storage.tsdb.path=${this.tsdbDir}`, `--web.listen-address=${this.address}`, ...this.args],
        logFile: this.logFile,
        ...(this.registry ? { registry: this.registry } : {}),
      },
      `${this.url}/-/ready`,
      this.readyTimeoutMs,
    );
  }

  async stop(): Promise<void> {
    await this.current?.stop();
  }
}

/** Writes the config and starts Prometheus on 127.0.0.1, ready when this resolves. */
export async function startHostPrometheus(options: StartPrometheusOptions): Promise<HostPrometheus> {
  const binary = options.binary ?? ensurePrometheusInstalled();
  const port = options.port ?? (await freePort());
  const prometheus = new HostPrometheus(
    options.name,
    port,
    binary,
    [
      `--storage.tsdb.min-block-duration=${options.minBlockDuration ?? "2h"}`,
      `--storage.tsdb.max-block-duration=${options.maxBlockDuration ?? "2h"}`,
      "--web.enable-lifecycle",
      ...(options.extraArgs ?? []),
    ],
    options.runDir,
    options.registry,
    options.readyTimeoutMs ?? 60_000,
  );
  fs.mkdirSync(prometheus.tsdbDir, { recursive: true });
  fs.writeFileSync(
    prometheus.configFile,
    renderPrometheusConfig({
      externalLabels: options.externalLabels,
      scrapeInterval: options.scrapeInterval ?? "2s",
      selfTarget: prometheus.address,
    }),
  );
  await prometheus.start();
  return prometheus;
}
