/** Shared inputs and helpers for the VM render and script tests. */
import { spawn } from "node:child_process";
import { parseStackConfig } from "../../lib/config";
import type { VmSidecarCommandInput } from "../../lib/vm/commands";
import { PAYLOAD_MAGIC } from "../../lib/vm/payload";
import type { SidecarScriptInput } from "../../lib/vm/sidecarValues";
import type { VmSidecarSettings } from "../../lib/vm/types";
import { asRawConfig, referenceConfig, REFERENCE_SECRET_KEYS, secretKeySet } from "../harness/configs";

/** Where Thanos comes from when the config says nothing: the schema's default. */
export const DEFAULT_DOWNLOAD = parseStackConfig(asRawConfig(referenceConfig()), secretKeySet(REFERENCE_SECRET_KEYS)).thanosDownload;

export const SETTINGS: VmSidecarSettings = {
  name: "prom-vm",
  prometheusUrl: "http://localhost:9090",
  tsdbPath: "/var/lib/prometheus/metrics2",
  bindAddress: "0.0.0.0",
  grpcPort: 10901,
  httpPort: 10902,
  logLevel: "info",
  readyTimeoutSeconds: 120,
};

export const COMMAND_INPUT: VmSidecarCommandInput = {
  settings: SETTINGS,
  thanos: { version: "0.42.4", download: DEFAULT_DOWNLOAD },
  tls: false,
  ssh: { host: "10.0.0.158", port: 22, user: "root" },
  stack: { project: "thanos-global-view", stack: "dev" },
};

export const SCRIPT_INPUT: SidecarScriptInput = {
  settings: SETTINGS,
  thanos: { version: "0.42.4", download: DEFAULT_DOWNLOAD },
  tls: false,
  owner: { token: "0123456789abcdef0123456789abcdef", label: "thanos-global-view/dev/prom-vm" },
};

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program without blocking the event loop (the fake HTTP servers of the tests live in this process). */
export function run(
  file: string,
  args: readonly string[],
  options: { stdin?: string; cwd?: string; signal?: { name: NodeJS.Signals; afterMs: number } } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, stdio: ["pipe", "pipe", "pipe"] });
    const { signal } = options;
    if (signal) setTimeout(() => child.kill(signal.name), signal.afterMs).unref();
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    // A program that never reads stdin may exit before the write lands.
    child.stdin.on("error", () => undefined);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? "");
  });
}

/** Runs a script the way the VM does: `bash -c <script> <name>`, stdin attached. */
export function runBash(script: string, stdin = "", signal?: { name: NodeJS.Signals; afterMs: number }): Promise<RunResult> {
  return run("bash", ["-c", script, "thanos-global-view-test"], { stdin, signal });
}

/** The entries of a stdin payload (magic line, `<name> <base64>` lines, `end`), decoded; throws on another shape. */
export function parsePayload(payload: string): Record<string, string> {
  const lines = payload.split("\n");
  if (lines[0] !== PAYLOAD_MAGIC || lines.at(-2) !== "end" || lines.at(-1) !== "") {
    throw new Error(`not a payload: ${JSON.stringify(payload.slice(0, 40))}`);
  }
  return Object.fromEntries(
    lines.slice(1, -2).map((line) => {
      const [name, data] = line.split(" ");
      return [name, Buffer.from(data, "base64").toString()];
    }),
  );
}

/** The script inside a remote command (`[sudo -n ]bash -c '<script>' '<name>'`), unquoted. */
export function scriptOf(command: string): string {
  const match = /^(?:sudo -n )?bash -c '([\s\S]*)' '[a-z-]+'$/.exec(command);
  if (!match) throw new Error(`not a bash -c command: ${command.slice(0, 80)}`);
  return match[1].replace(/'\\''/g, "'");
}
