/** Shared inputs and helpers for the tests of what runs on VMs. */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { parseStackConfig, type VmConfig } from "../../lib/config";
import { PROJECT } from "../../lib/project";
import { parseThanosVersion } from "../../lib/thanosVersion";
import { installCode, vmPrometheusCommands, vmSidecarCommands } from "../../lib/vm/commands";
import { PAYLOAD_MAGIC } from "../../lib/vm/payload";
import type { VmStackSettings } from "../../lib/vm/stackSettings";
import { runCommand, type CommandResult } from "./command";
import { asRawConfig, referenceConfig, REFERENCE_SECRET_KEYS, secretKeySet } from "./configs";

const REFERENCE = parseStackConfig(asRawConfig(referenceConfig()), secretKeySet(REFERENCE_SECRET_KEYS));

/** The reference setup's VM entry, as the config schema produces it. */
export const VM: VmConfig = REFERENCE.vms[0];
/** Its SSH host, resolved. */
export const VM_HOST = "10.0.0.158";
/** The reference setup's stack-wide settings, as the stack "dev" of the project. */
export const STACK: VmStackSettings = {
  thanosVersion: REFERENCE.thanosVersion,
  thanosDownload: REFERENCE.thanosDownload,
  tls: false,
  owner: { project: PROJECT, stack: "dev" },
};

/** Runs a script the way the VM does: `bash -c <script> <name>`, stdin attached. */
export function runBash(script: string, stdin = "", signal?: { name: NodeJS.Signals; afterMs: number }): Promise<CommandResult> {
  return runCommand("bash", ["-c", script, "thanos-global-view-test"], { stdin, signal });
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

/** The script inside a remote command (`[sudo -n ]bash -c '<script>' '<name>'[ "$HOME"/'<code>']`), unquoted. */
export function scriptOf(command: string): string {
  const match = /^(?:sudo -n )?bash -c '([\s\S]*)' '[a-z-]+'(?: "\$HOME"\/'[^']+')?$/.exec(command);
  if (!match) throw new Error(`not a bash -c command: ${command.slice(0, 80)}`);
  return match[1].replace(/'\\''/g, "'");
}

/**
 * What a remote command runs, as one file: its values, then its fixed code, unpacked from the command or, for the
 * install, the uploaded code (installCode()).
 */
export function effectiveScript(command: string): string {
  const script = scriptOf(command);
  const values = script.slice(0, script.search(/^# The fixed code of /m));
  const packed = /^code=\$\(base64 -d <<'CODE' \| gzip -dc\n([A-Za-z0-9+/=\n]*)\nCODE\n/m.exec(script);
  const code = packed ? zlib.gunzipSync(Buffer.from(packed[1], "base64")).toString("utf8") : installCode().text;
  return `${values}${code}`;
}

/** The rendered value of a plain text value (`readonly NAME='...'` in the script's header). */
export function scriptValue(script: string, name: string): string {
  const match = new RegExp(`^readonly ${name}='([^']*)'$`, "m").exec(script);
  if (!match) throw new Error(`the script sets no plain value ${name}`);
  return match[1];
}

/** Inputs whose scripts differ the most, for the static checks of everything a VM receives. */
/** A VM entry with its SSH host and stack settings, as vmSidecarCommands takes them. */
export interface ScriptVariant {
  vm: VmConfig;
  host: string;
  stack: VmStackSettings;
}

export const SCRIPT_VARIANTS: Record<string, ScriptVariant> = {
  default: { vm: VM, host: VM_HOST, stack: STACK },
  "tls, runAs, sudo, mirror with pinned checksum": {
    vm: { ...VM, runAs: "prometheus", logLevel: "debug", port: 2222, user: "ops" },
    host: "vm.example.com",
    stack: {
      ...STACK,
      tls: true,
      thanosVersion: parseThanosVersion("0.34.1")!,
      thanosDownload: {
        urlTemplate: "http://mirror.local:8080/thanos/v{version}/thanos-{version}.linux-{arch}.tar.gz",
        sha256sumsUrlTemplate: "http://mirror.local:8080/thanos/v{version}/sha256sums.txt",
        sha256: { amd64: "c".repeat(64) },
      },
    },
  },
  "configurePrometheus, IPv6, odd paths": {
    vm: {
      ...VM,
      name: "it's-a-vm",
      bindAddress: "::",
      prometheusUrl: "http://[::1]:9090/prom%20etheus",
      tsdbPath: "/srv/prom data/$tsdb",
      configurePrometheus: { externalLabels: { cluster: "prom_vm", region: "eu west 'one'" }, blockDuration: "2h" },
    },
    host: VM_HOST,
    stack: STACK,
  },
};

/**
 * Writes what each command of a variant runs (effectiveScript) to `<dir>/<kind>.sh`, and the script the command
 * itself holds to `<dir>/<kind>-command.sh`, after checking the variant renders exactly the
 * commands its VM entry asks for: install and delete, the external labels' read, and the Prometheus setup with
 * configurePrometheus.
 */
export function writeRenderedScripts(dir: string, variant: ScriptVariant): { kind: string; command: string; file: string }[] {
  const commands = Object.entries({ ...vmSidecarCommands(variant.vm, variant.host, variant.stack), ...vmPrometheusCommands(variant.vm) });
  assert.deepEqual(
    commands.map(([kind]) => kind),
    ["install", "delete", "externalLabels", ...(variant.vm.configurePrometheus ? ["setup"] : [])],
  );
  return commands.flatMap(([kind, command]) => {
    const file = path.join(dir, `${kind}.sh`);
    fs.writeFileSync(file, effectiveScript(command));
    // The script bash -c gets: the values and what unpacks or checks the code.
    const loader = path.join(dir, `${kind}-command.sh`);
    fs.writeFileSync(loader, scriptOf(command));
    return [
      { kind, command, file },
      { kind: `${kind} (command)`, command, file: loader },
    ];
  });
}
