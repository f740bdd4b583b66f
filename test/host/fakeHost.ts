/**
 * A stand-in for what the VM scripts talk to, on 127.0.0.1: over HTTP Prometheus' status API and /-/ready, a release
 * mirror serving a Thanos tarball and its sha256sums.txt, and (on its own port) the sidecar's /-/ready; the VM's
 * tools (systemctl, journalctl, promtool) as bash functions from fakes/.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { shQuote } from "../../lib/vm/shell";

export interface FakePrometheus {
  /** Flags as /api/v1/status/flags reports them; undefined entries are left out. */
  flags: Record<string, string | undefined>;
  /** The YAML /api/v1/status/config reports. */
  configYaml: string;
  ready: boolean;
  /** Raw body for /api/v1/status/flags instead of the compact JSON of `flags`. */
  flagsBody?: string;
  /** The Authorization header its API wants (as behind --web.config.file basic auth); anything else gets 401. */
  authorization?: string;
}

export interface FakeHost {
  url: string;
  /** Port of the sidecar's stand-in: answers /-/ready as sidecarReady says. */
  sidecarPort: number;
  prometheus: FakePrometheus;
  /** Whether the sidecar's /-/ready answers 200; may look at the installed unit. */
  sidecarReady: () => boolean;
  /** Requests per path, to see what was downloaded. */
  requests: Map<string, number>;
  /** Files served under /release/ by name. */
  release: Map<string, Buffer>;
  close(): Promise<void>;
}

export const DEFAULT_PROMETHEUS_YAML = "global:\n  scrape_interval: 15s\n  external_labels:\n    cluster: prom_vm\nscrape_configs: []\n";

export function goodPrometheus(tsdbPath: string): FakePrometheus {
  return {
    flags: {
      "storage.tsdb.min-block-duration": "2h",
      "storage.tsdb.max-block-duration": "2h",
      "storage.tsdb.path": tsdbPath,
      "web.listen-address": "0.0.0.0:9090",
    },
    configYaml: DEFAULT_PROMETHEUS_YAML,
    ready: true,
  };
}

function send(response: http.ServerResponse, status: number, body: string | Buffer): void {
  response.writeHead(status);
  response.end(body);
}

export async function startFakeHost(prometheus: FakePrometheus): Promise<FakeHost> {
  const requests = new Map<string, number>();
  const release = new Map<string, Buffer>();
  const host: Omit<FakeHost, "url" | "sidecarPort" | "close"> = { prometheus, sidecarReady: () => true, requests, release };
  const server = http.createServer((request, response) => {
    const url = request.url ?? "/";
    requests.set(url, (requests.get(url) ?? 0) + 1);
    const { prometheus: state } = host;
    const isPrometheus = url.startsWith("/api/") || url === "/-/ready";
    if (isPrometheus && state.authorization !== undefined && request.headers.authorization !== state.authorization) {
      return send(response, 401, "Unauthorized");
    }
    if (url === "/api/v1/status/flags") {
      const flags = Object.fromEntries(Object.entries(state.flags).filter(([, value]) => value !== undefined));
      return send(response, 200, state.flagsBody ?? JSON.stringify({ status: "success", data: flags }));
    }
    if (url === "/api/v1/status/config") return send(response, 200, JSON.stringify({ status: "success", data: { yaml: state.configYaml } }));
    if (url === "/-/ready") return send(response, state.ready ? 200 : 503, state.ready ? "ready" : "starting");
    const file = url.startsWith("/release/") ? release.get(url.slice("/release/".length)) : undefined;
    return file ? send(response, 200, file) : send(response, 404, "not found");
  });
  const sidecar = http.createServer((request, response) =>
    request.url === "/-/ready" && host.sidecarReady() ? send(response, 200, "ready") : send(response, 503, "not ready"),
  );
  const listen = async (target: http.Server) => {
    await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
    return (target.address() as AddressInfo).port;
  };
  const stop = (target: http.Server) => new Promise<void>((resolve) => target.close(() => resolve()));
  const port = await listen(server);
  return Object.assign(host, {
    url: `http://127.0.0.1:${port}`,
    sidecarPort: await listen(sidecar),
    close: async () => {
      await Promise.all([stop(server), stop(sidecar)]);
    },
  });
}

/** The Thanos arch of this machine, as the install script maps `uname -m`. */
export function localArch(): "amd64" | "arm64" {
  return os.arch() === "arm64" ? "arm64" : "amd64";
}

/** A release-shaped tarball whose `thanos` is a stub script, plus its sha256sums.txt, put on the fake mirror. */
export function publishFakeRelease(host: FakeHost, version: string, scratch: string): { sha256: string } {
  const name = `thanos-${version}.linux-${localArch()}`;
  const dir = fs.mkdtempSync(path.join(scratch, "release-"));
  fs.mkdirSync(path.join(dir, name));
  fs.writeFileSync(path.join(dir, name, "thanos"), `#!/bin/sh\necho "thanos, version ${version} (stub)"\n`, { mode: 0o755 });
  execFileSync("tar", ["-czf", path.join(dir, `${name}.tar.gz`), "-C", dir, `${name}/thanos`]);
  const tarball = fs.readFileSync(path.join(dir, `${name}.tar.gz`));
  const sha256 = createHash("sha256").update(tarball).digest("hex");
  host.release.set(`${version}/${name}.tar.gz`, tarball);
  host.release.set(`${version}/sha256sums.txt`, Buffer.from(`${"0".repeat(64)}  thanos-${version}.darwin-arm64.tar.gz\n${sha256}  ${name}.tar.gz\n`));
  return { sha256 };
}

/**
 * A rendered script with `shell` run just before its final call to main: the fake tools of fakes/<name>.sh, with
 * the variables they read, and any twist a test adds (e.g. closing stderr as a dropped SSH session does).
 */
export function withFakes(script: string, fakes: { file: "systemd" | "prometheus-tools"; variables: Record<string, string>; shell?: string }): string {
  const call = "\nmain\n";
  if (!script.endsWith(call)) throw new Error("the rendered script does not end by calling main");
  const variables = Object.entries(fakes.variables).map(([name, value]) => `${name}=${shQuote(value)}\n`);
  const tools = fs.readFileSync(path.join(__dirname, "fakes", `${fakes.file}.sh`), "utf8");
  return `${script.slice(0, -call.length)}\n${variables.join("")}${tools}${fakes.shell ?? ""}main\n`;
}
