// Thanos as host processes: sidecars beside host Prometheus servers (the in-cluster pods' stand-ins) and the querier,
// run with exactly the args the Querier component renders. Plus the two queries the system tests ask of a querier.
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { REPO_ROOT } from "../repo";
import { freePorts, getJson, LOOPBACK } from "./ports";
import { runForStdout, startUntilReady, type ExitStatus, type ManagedProcess, type ProcessRegistry } from "./process";


/** The release directory (binary `thanos`, tarball, sha256sums.txt) test/build/build-thanos builds or finds cached. */
export async function thanosReleaseDir(version: string): Promise<string> {
  return (await runForStdout(path.join(REPO_ROOT, "test", "build", "build-thanos"), [version])).trim();
}

export const thanosBinary = (releaseDir: string) => path.join(releaseDir, "thanos");

export interface StartSidecarOptions {
  binary: string;
  /** Names the log (`<runDir>/logs/<name>.log`) and the objstore file (`<runDir>/<name>/objstore.yml`). */
  name: string;
  runDir: string;
  prometheus: { url: string; tsdbDir: string };
  /** The objstore config (lib/objstore.ts `renderObjstoreYaml`); without it the sidecar uploads nothing. Written to a
   * 0600 file. */
  objstoreYaml?: string;
  logLevel?: string;
  extraArgs?: readonly string[];
  /** Default 60 s. */
  readyTimeoutMs?: number;
  registry?: ProcessRegistry;
}

export interface HostThanos {
  name: string;
  /** host:port of the gRPC StoreAPI, what a querier endpoint points at. */
  grpcAddress: string;
  httpUrl: string;
  process: ManagedProcess;
  stop(): Promise<ExitStatus>;
}

export interface HostSidecar extends HostThanos {
  objstoreConfigFile: string | undefined;
}

/** Starts `thanos sidecar` on loopback ports the kernel picked and waits for /-/ready. */
export async function startSidecar(options: StartSidecarOptions): Promise<HostSidecar> {
  const [grpcPort, httpPort] = await freePorts(2);
  const grpcAddress = `${LOOPBACK}:${grpcPort}`;
  const httpAddress = `${LOOPBACK}:${httpPort}`;
  let objstoreConfigFile: string | undefined;
  if (options.objstoreYaml !== undefined) {
    objstoreConfigFile = path.join(options.runDir, options.name, "objstore.yml");
    fs.mkdirSync(path.dirname(objstoreConfigFile), { recursive: true });
    fs.writeFileSync(objstoreConfigFile, options.objstoreYaml, { mode: 0o600 });
  }
  const httpUrl = `http://${httpAddress}`;
  const managed = await startUntilReady(
    {
      name: options.name,
    command: options.binary,
      args: [
        "sidecar",
        `--log.level=${options.logLevel ?? "info"}`,
        `--tsdb.path=${options.prometheus.tsdbDir}`,
        `--prometheus.url=${options.prometheus.url}`,
        `--grpc-address=${grpcAddress}`,
        `--http-address=${httpAddress}`,
        ...(objstoreConfigFile ? [`--objstore.config-file=${objstoreConfigFile}`] : []),
        ...(options.extraArgs ?? []),
      ],
      logFile: path.join(options.runDir, "logs", `${options.name}.log`),
      ...(options.registry ? { registry: options.registry } : {}),
    },
    `${httpUrl}/-/ready`,
    options.readyTimeoutMs,
  );
  return { name: options.name, grpcAddress, httpUrl, process: managed, objstoreConfigFile, stop: () => managed.stop() };
}

/** An endpoint found through DNS (dns+ or dnssrv+), as the querier reads it. */
export const DNS_DISCOVERY = /^dns(srv)?\+/;

/**
 * A querier's args (as the Querier component renders them) for a host process: the listen addresses moved to the
 * given loopback addresses, each DNS-discovered endpoint (a headless Service, which no DNS here resolves) replaced by
 * the addresses of the pods it stands for, and files under a container mount path (`files.from`, the TLS Secret)
 * read from `files.to`. Nothing else changes; in the sd-config form the YAML is re-rendered with the same entries.
 */
export function querierArgsOnHost(
  args: readonly string[],
  replace: {
    grpcAddress: string;
    httpAddress: string;
    /** One list for every DNS-discovered endpoint, or a list per endpoint (e.g. the sidecars' and the store gateways'). */
    discovered: readonly string[] | Readonly<Record<string, readonly string[]>>;
    files?: { from: string; to: string };
  },
): string[] {
  const seen = new Set<string>();
  const { files, discovered } = replace;
  const standIns = (address: string): readonly string[] => {
    if (Array.isArray(discovered)) return discovered;
    const found = (discovered as Readonly<Record<string, readonly string[]>>)[address];
    if (!found) throw new Error(`no host stand-ins for ${address}`);
    return found;
  };
  const moved = files ? args.map((arg) => arg.replaceAll(`${files.from}/`, `${files.to}/`)) : args;
  const out = moved.flatMap((arg): string[] => {
    const [flag, ...rest] = arg.split("=");
    const value = rest.join("=");
    if (flag === "--grpc-address" || flag === "--http-address") {
      seen.add(flag);
      return [`${flag}=${flag === "--grpc-address" ? replace.grpcAddress : replace.httpAddress}`];
    }
    if (flag === "--endpoint" && DNS_DISCOVERY.test(value)) return standIns(value).map((address) => `--endpoint=${address}`);
    if (flag === "--endpoint.sd-config") {
      const config = YAML.parse(value) as { endpoints: ({ address: string } & Record<string, unknown>)[] };
      const endpoints = config.endpoints.flatMap((entry) =>
        DNS_DISCOVERY.test(entry.address) ? standIns(entry.address).map((address) => ({ ...entry, address })) : [entry],
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

/** The value of `--<flag>=v` or `--<flag> v` in args, if present. */
export function flagValue(args: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${flag}`) return args[i + 1];
    if (args[i].startsWith(`--${flag}=`)) return args[i].slice(flag.length + 3);
  }
  return undefined;
}

const isLoopbackAddress = (address: string | undefined) => address !== undefined && /^127\.\d+\.\d+\.\d+:\d+$/.test(address);

export interface StartQuerierOptions {
  runDir: string;
  /** Default "querier"; names the log `<runDir>/logs/<name>.log`. */
  name?: string;
  /** Default 60 s (from 0.40 the querier is ready only after its first endpoint discovery). */
  readyTimeoutMs?: number;
  registry?: ProcessRegistry;
}

/**
 * Runs `thanos ...args` (args as the Querier component renders them, starting with "query") and waits for /-/ready.
 * The args must set --grpc-address and --http-address on 127.0.0.0/8: the defaults would listen on every interface.
 */
export async function startQuerier(binary: string, args: readonly string[], options: StartQuerierOptions): Promise<HostThanos> {
  const grpcAddress = flagValue(args, "grpc-address");
  const httpAddress = flagValue(args, "http-address");
  if (!isLoopbackAddress(grpcAddress) || !isLoopbackAddress(httpAddress)) {
    throw new Error(
      `querier args must set --grpc-address and --http-address to 127.x.y.z:port, got ${grpcAddress ?? "none"} and ${httpAddress ?? "none"}`,
    );
  }
  const name = options.name ?? "querier";
  const httpUrl = `http://${httpAddress}`;
  const managed = await startUntilReady(
    {
      name,
      command: binary,
      args,
      logFile: path.join(options.runDir, "logs", `${name}.log`),
      ...(options.registry ? { registry: options.registry } : {}),
    },
    `${httpUrl}/-/ready`,
    options.readyTimeoutMs,
  );
  return { name, grpcAddress: grpcAddress!, httpUrl, process: managed, stop: () => managed.stop() };
}

/** One entry of the querier's /api/v1/stores. */
export interface StoreStatus {
  /** The key it was listed under, e.g. "sidecar". */
  type: string;
  name: string;
  lastCheck?: string;
  lastError: string | null;
  labelSets: Record<string, string>[];
  minTime: number;
  maxTime: number;
}

interface ApiResponse<T> {
  status: string;
  data: T;
  warnings?: string[];
  error?: string;
}

/** Every store the querier knows, flattened over the component types it groups them by. */
export async function queryStores(httpUrl: string): Promise<StoreStatus[]> {
  const response = await getJson<ApiResponse<Record<string, Omit<StoreStatus, "type">[] | null>>>(`${httpUrl}/api/v1/stores`);
  return Object.entries(response.data).flatMap(([type, stores]) => (stores ?? []).map((store) => ({ type, ...store })));
}

export interface InstantQueryOptions {
  /** Thanos `dedup` (default true on the querier). */
  dedup?: boolean;
  partialResponse?: boolean;
  /** Evaluation time, RFC 3339 or Unix seconds; default now. */
  time?: string;
}

export interface Series {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query: the result vector and the querier's warnings (partial responses put errors there). */
export async function instantQuery(
  httpUrl: string,
  promql: string,
  options: InstantQueryOptions = {},
): Promise<{ series: Series[]; warnings: string[] }> {
  const params = new URLSearchParams({ query: promql });
  if (options.dedup !== undefined) params.set("dedup", String(options.dedup));
  if (options.partialResponse !== undefined) params.set("partial_response", String(options.partialResponse));
  if (options.time !== undefined) params.set("time", options.time);
  const response = await getJson<ApiResponse<{ resultType: string; result: Series[] }>>(`${httpUrl}/api/v1/query?${params.toString()}`);
  if (response.data.resultType !== "vector") throw new Error(`${promql}: expected a vector, got ${response.data.resultType}`);
  return { series: response.data.result, warnings: response.warnings ?? [] };
}
