/**
 * A simulated VM for the VM scripts: every path they touch points into a scratch directory, systemctl and journalctl
 * are bash functions that record calls (fakes/systemd.sh), and a fake host on 127.0.0.1 serves Prometheus' API, the
 * sidecar's /-/ready and a release mirror. The scripts are rendered by the product's own renderer, only the paths
 * among their values moved. Needs root (the scripts chown files to the sidecar's user, here nobody).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ThanosDownload } from "../../lib/config";
import { parseThanosVersion } from "../../lib/thanosVersion";
import { sidecarSecrets, vmSidecarPayload } from "../../lib/vm/payload";
import { renderScript, type ScriptValues, type VmScript } from "../../lib/vm/shell";
import { sidecarScriptValues, type VmSidecarSettings } from "../../lib/vm/sidecarValues";
import type { VmStackSettings } from "../../lib/vm/stackSettings";
import { type CommandResult } from "../harness/command";
import { runBash, STACK, VM, VM_HOST } from "../harness/vm";
import { withFakes, type FakeHost } from "./fakeHost";

export const SECRET = "SECRET-objstore-key-4711";
export const OBJSTORE = { bucket: "thanos", endpoint: "127.0.0.1:9000", insecure: true, accessKey: "minio" };
export const NOBODY = 65534;

/** What one `pulumi up` renders the scripts from. */
export interface Deployment {
  vm: VmSidecarSettings;
  stack: VmStackSettings;
}

export class SimulatedVm {
  readonly installRoot: string;
  readonly configDir: string;
  readonly unitPath: string;
  readonly fakeDir: string;
  readonly tsdb: string;
  /** The install's work directories go here instead of the host's /var/tmp. */
  readonly workRoot: string;

  constructor(
    readonly root: string,
    private readonly host: FakeHost,
  ) {
    this.installRoot = path.join(root, "opt/thanos-global-view");
    this.configDir = path.join(root, "etc/thanos-global-view");
    this.unitPath = path.join(root, "etc/systemd/system/thanos-sidecar.service");
    this.fakeDir = path.join(root, "fake");
    this.tsdb = path.join(root, "var/lib/prometheus/metrics2");
    this.workRoot = path.join(root, "var/tmp");
    for (const dir of [path.dirname(this.unitPath), this.fakeDir, this.tsdb, this.workRoot, path.join(root, "run")]) fs.mkdirSync(dir, { recursive: true });
    fs.chownSync(this.tsdb, NOBODY, NOBODY);
  }

  /** The VM entry and stack for this VM; another name is a renamed entry (another owner). */
  input(
    overrides: {
      logLevel?: "debug" | "info" | "warn";
      version?: string;
      sha256?: ThanosDownload["sha256"];
      name?: string;
      httpPort?: number;
      /** Any other keys of the VM entry, and what the stack derives for it. */
      vm?: Partial<VmSidecarSettings>;
    } = {},
  ): Deployment {
    const download: ThanosDownload = {
      urlTemplate: `${this.host.url}/release/{version}/thanos-{version}.linux-{arch}.tar.gz`,
      sha256sumsUrlTemplate: `${this.host.url}/release/{version}/sha256sums.txt`,
      sha256: overrides.sha256,
    };
    return {
      vm: {
        ...VM,
        name: overrides.name ?? VM.name,
        prometheusUrl: this.host.url,
        tsdbPath: this.tsdb,
        logLevel: overrides.logLevel ?? "info",
        bindAddress: "127.0.0.1",
        httpPort: overrides.httpPort ?? this.host.sidecarPort,
        readyTimeoutSeconds: 2,
        ...overrides.vm,
      },
      stack: { ...STACK, thanosVersion: parseThanosVersion(overrides.version ?? "0.42.4")!, thanosDownload: download },
    };
  }

  versionDir(version: string): string {
    return path.join(this.installRoot, `thanos-${version}`);
  }

  /** The scripts' values, with every path that would leave the scratch directory moved into it. */
  values(input: Deployment): ScriptValues {
    return {
      ...sidecarScriptValues(input.vm, VM_HOST, input.stack),
      INSTALL_ROOT: this.installRoot,
      VERSION_DIR: this.versionDir(input.stack.thanosVersion.text),
      CONFIG_DIR: this.configDir,
      UNIT_PATH: this.unitPath,
      LOCK_PATH: path.join(this.root, "run/thanos-global-view.lock"),
      WORK_ROOT: this.workRoot,
      OWNER_MARKER_PATH: path.join(this.configDir, "owner"),
    };
  }

  private run(script: VmScript, input: Deployment, stdin = "", signal?: { name: NodeJS.Signals; afterMs: number }, shell = ""): Promise<CommandResult> {
    const variables = { FAKE_DIR: this.fakeDir, FAKE_SECRET: SECRET };
    return runBash(withFakes(renderScript(script, this.values(input)), { file: "systemd", variables, shell }), stdin, signal);
  }

  install(
    input: Deployment,
    payload = vmSidecarPayload(sidecarSecrets(OBJSTORE, SECRET, undefined, {})),
    signal?: { name: NodeJS.Signals; afterMs: number },
    /** Shell run just before main, e.g. to close stderr as a dropped SSH session does. */
    beforeMain = "",
  ): Promise<CommandResult> {
    return this.run("install", input, payload, signal, beforeMain);
  }

  delete(input: Deployment): Promise<CommandResult> {
    return this.run("delete", input);
  }

  /** systemctl calls that change something, since the last look. */
  takeSystemctlCalls(): string[] {
    const log = path.join(this.fakeDir, "systemctl.log");
    const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [];
    fs.rmSync(log, { force: true });
    return calls.filter((call) => !/^is-(active|enabled) /.test(call));
  }

  unit(): string {
    return fs.readFileSync(this.unitPath, "utf8");
  }
}

