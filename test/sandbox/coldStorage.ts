// The cold storage components (store gateway, compactor, query frontend) as host processes, run with the args their
// components register under the mocks harness, plus what the system tests need around them: history made by Debian's
// promtool and uploaded the way Thanos uploads, the bucket's blocks as Thanos sees them, and the Thanos metrics.
//
// What a host process changes in the rendered args, and why (argsOnHost): the listen addresses (the pods listen on
// 0.0.0.0 at fixed ports; here each process gets 127.0.0.1 and ports the kernel picked), the paths the pod mounts
// (--data-dir on its volume, --objstore.config-file in the mounted Secret: here a run directory and a 0600 file with
// the Secret's very content), and addresses only cluster DNS resolves (the frontend's downstream querier Service, the
// querier's dnssrv+ Service endpoints): here the host processes standing in for them. Nothing else.
import * as fs from "node:fs";
import * as path from "node:path";
import { byType, reveal, runProgram } from "../harness/mocks";
import { freePorts, getJson, httpRequest, LOOPBACK } from "./ports";
import type { MinioServer } from "./minio";
import { runCommand } from "../harness/command";
import { startUntilReady, type ManagedProcess, type ProcessRegistry } from "./process";

/** What the program registers for the cold storage components: their container args and the objstore Secret's file. */
export interface RenderedColdStorage {
  /** One per time partition (StatefulSet thanos-store, or thanos-store-<i>). */
  storeGateways: string[][];
  compactor: string[];
  queryFrontend: string[];
  querier: string[];
  /** The content of the Secret the store gateway and compactor mount (the objstore YAML, secret key included). */
  objstoreYaml: string;
  /** The PrometheusRule's spec.groups. */
  ruleGroups: unknown[];
}

const containerArgs = (type: string, name: string): string[] => {
  const resource = byType(type).find((candidate) => reveal(candidate.inputs).metadata.name === name);
  if (!resource) throw new Error(`the program registered no ${type} ${name}`);
  return reveal(resource.inputs).spec.template.spec.containers[0].args as string[];
};

/** Runs index.ts under mocks with `config` (every cold storage component on, default names) and takes what it registers. */
export async function renderColdStorage(config: Record<string, unknown>, secretKeys: readonly string[]): Promise<RenderedColdStorage> {
  await runProgram(config, secretKeys);
  const secret = byType("kubernetes:core/v1:Secret").find((candidate) => reveal(candidate.inputs).metadata.name === "thanos-objstore-config");
  const rule = byType("kubernetes:monitoring.coreos.com/v1:PrometheusRule")[0];
  return {
    storeGateways: byType("kubernetes:apps/v1:StatefulSet")
      .map((resource) => reveal(resource.inputs))
      .filter((set) => /^thanos-store(-\d+)?$/.test(set.metadata.name))
      .sort((a, b) => String(a.metadata.name).localeCompare(b.metadata.name))
      .map((set) => set.spec.template.spec.containers[0].args as string[]),
    compactor: containerArgs("kubernetes:apps/v1:StatefulSet", "thanos-compact"),
    queryFrontend: containerArgs("kubernetes:apps/v1:Deployment", "thanos-query-frontend"),
    querier: containerArgs("kubernetes:apps/v1:Deployment", "thanos-querier"),
    objstoreYaml: reveal(secret!.inputs).stringData["objstore.yml"] as string,
    ruleGroups: rule ? (reveal(rule.inputs).spec.groups as unknown[]) : [],
  };
}

/** `args` with the value of each flag in `replace` swapped (`--flag=value` form); each must occur exactly once. */
export function argsOnHost(args: readonly string[], replace: Record<string, string>): string[] {
  for (const flag of Object.keys(replace)) {
    const count = args.filter((arg) => arg.startsWith(`--${flag}=`)).length;
    if (count !== 1) throw new Error(`--${flag} occurs ${count} times in the rendered args: ${args.join(" ")}`);
  }
  return args.map((arg) => {
    const flag = /^--([^=]+)=/.exec(arg)?.[1];
    return flag !== undefined && flag in replace ? `--${flag}=${replace[flag]}` : arg;
  });
}

export interface HostComponent {
  name: string;
  httpUrl: string;
  /** host:port of the StoreAPI, for components that serve one. */
  grpcAddress?: string;
  process: ManagedProcess;
}

export interface StartComponentOptions {
  binary: string;
  name: string;
  runDir: string;
  registry: ProcessRegistry;
  /** Written to <runDir>/<name>/objstore.yml (0600) for --objstore.config-file. */
  objstoreYaml?: string;
  /** Further flags to point at host addresses (e.g. the frontend's downstream). */
  replace?: Record<string, string>;
  readyTimeoutMs?: number;
}

/**
 * Starts `thanos <rendered args>` on loopback, adapted by argsOnHost: --http-address (and --grpc-address when the args
 * have one), --data-dir and --objstore.config-file when present; waits for /-/ready.
 */
export async function startComponent(rendered: readonly string[], options: StartComponentOptions): Promise<HostComponent> {
  const home = path.join(options.runDir, options.name);
  fs.mkdirSync(home, { recursive: true });
  const has = (flag: string) => rendered.some((arg) => arg.startsWith(`--${flag}=`));
  const [httpPort, grpcPort] = await freePorts(2);
  const replace: Record<string, string> = { "http-address": `${LOOPBACK}:${httpPort}`, ...options.replace };
  if (has("grpc-address")) replace["grpc-address"] = `${LOOPBACK}:${grpcPort}`;
  if (has("data-dir")) replace["data-dir"] = path.join(home, "data");
  if (has("objstore.config-file")) {
    if (options.objstoreYaml === undefined) throw new Error(`${options.name} reads the bucket: give it the objstore YAML`);
    const file = path.join(home, "objstore.yml");
    fs.writeFileSync(file, options.objstoreYaml, { mode: 0o600 });
    replace["objstore.config-file"] = file;
  }
  const httpUrl = `http://${LOOPBACK}:${httpPort}`;
  const process = await startUntilReady(
    { name: options.name, command: options.binary, args: argsOnHost(rendered, replace), logFile: path.join(options.runDir, "logs", `${options.name}.log`), registry: options.registry },
    `${httpUrl}/-/ready`,
    options.readyTimeoutMs ?? 120_000,
  );
  return { name: options.name, httpUrl, grpcAddress: replace["grpc-address"], process };
}

/** The value of a metric in a /metrics page: the sum over the series whose labels include `labels`. */
export async function metricValue(httpUrl: string, metric: string, labels: Record<string, string> = {}): Promise<number> {
  const text = (await httpRequest({ url: `${httpUrl}/metrics` })).body.toString("utf8");
  let sum = 0;
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([^ ]+)/.exec(line);
    if (!match || match[1] !== metric) continue;
    const series = match[2] ?? "";
    if (Object.entries(labels).every(([key, value]) => series.includes(`${key}="${value}"`))) sum += Number(match[3]);
  }
  return sum;
}

/** How many parts a query frontend has split range queries into (the metric's name differs between versions). */
export async function frontendSplitQueries(httpUrl: string): Promise<number> {
  for (const metric of ["thanos_frontend_split_queries_total", "cortex_frontend_split_queries_total"]) {
    const value = await metricValue(httpUrl, metric, { tripperware: "query_range" });
    if (value > 0) return value;
  }
  return 0;
}

export interface OpenMetricsSeries {
  /** e.g. `cold_test{series="a"}` */
  selector: string;
  /** The sample value at a Unix second. */
  value: (unixSeconds: number) => number;
}

/**
 * TSDB blocks made by Debian's promtool from OpenMetrics samples every `stepSeconds` in [startSeconds, endSeconds):
 * 2h blocks as Prometheus cuts them. Returns the block directories.
 */
export async function makeBlocks(dir: string, options: { metric: string; series: OpenMetricsSeries[]; startSeconds: number; endSeconds: number; stepSeconds: number }): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const lines = [`# TYPE ${options.metric} gauge`];
  for (let t = options.startSeconds; t < options.endSeconds; t += options.stepSeconds) {
    for (const series of options.series) lines.push(`${series.selector} ${series.value(t)} ${t}`);
  }
  lines.push("# EOF", "");
  const input = path.join(dir, "samples.om");
  fs.writeFileSync(input, lines.join("\n"));
  const blocks = path.join(dir, "blocks");
  const result = await runCommand("promtool", ["tsdb", "create-blocks-from", "openmetrics", "-q", input, blocks]);
  if (result.code !== 0) throw new Error(`promtool failed: ${result.stderr}`);
  fs.rmSync(input);
  return fs.readdirSync(blocks).map((name) => path.join(blocks, name));
}

/** A block's meta.json as Thanos keeps it in the bucket. */
export interface BlockMeta {
  ulid: string;
  minTime: number;
  maxTime: number;
  compaction: { level: number; sources: string[] };
  thanos: { labels: Record<string, string>; downsample: { resolution: number }; source: string; upload_time?: string };
}

/**
 * Uploads block directories with `thanos tools bucket upload-blocks` (Thanos' own shipper, which adds the external
 * labels and source to meta.json), then dates each block's upload to 5 minutes after its end, as a sidecar would have
 * shipped it then: from 0.42 the compactor counts a block's consistency delay (30m) from its upload time, and this
 * history is days old.
 */
export async function uploadBlocks(options: {
  binary: string;
  blocksDir: string;
  objstoreFile: string;
  labels: Record<string, string>;
  minio: MinioServer;
  bucket: string;
}): Promise<BlockMeta[]> {
  const labelFlags = Object.entries(options.labels).map(([key, value]) => `--label=${key}="${value}"`);
  const result = await runCommand(options.binary, ["tools", "bucket", "upload-blocks", `--path=${options.blocksDir}`, `--objstore.config-file=${options.objstoreFile}`, ...labelFlags]);
  if (result.code !== 0) throw new Error(`upload-blocks failed: ${result.stderr}`);
  const uploaded = fs.readdirSync(options.blocksDir).filter((name) => /^[0-9A-Z]{26}$/.test(name));
  const metas: BlockMeta[] = [];
  for (const ulid of uploaded) {
    const meta = JSON.parse((await options.minio.getObject(options.bucket, `${ulid}/meta.json`)).toString("utf8")) as BlockMeta;
    meta.thanos.upload_time = new Date(meta.maxTime + 5 * 60_000).toISOString();
    await options.minio.putObject(options.bucket, `${ulid}/meta.json`, JSON.stringify(meta, null, "\t"));
    metas.push(meta);
  }
  return metas;
}

export interface BucketBlock extends BlockMeta {
  markedForDeletion: boolean;
  /** When meta.json was written, per the object store (a shipper writes it last). */
  uploadedAt: Date;
}

/**
 * Every block in the bucket with its meta.json, whether it carries a deletion mark and when it was uploaded; blocks
 * still being uploaded (no meta.json yet) are left out. A meta.json naming another block than its directory throws.
 */
export async function bucketBlocks(minio: MinioServer, bucket: string): Promise<BucketBlock[]> {
  const objects = await minio.listObjects(bucket);
  const keys = objects.map((object) => object.key);
  const blocks: BucketBlock[] = [];
  for (const object of objects.filter((candidate) => /^[0-9A-Z]{26}\/meta\.json$/.test(candidate.key))) {
    const ulid = object.key.slice(0, 26);
    const meta = JSON.parse((await minio.getObject(bucket, object.key)).toString("utf8")) as BlockMeta;
    if (meta.ulid !== ulid) throw new Error(`${bucket}/${object.key} names block ${meta.ulid}`);
    blocks.push({ ...meta, markedForDeletion: keys.includes(`${ulid}/deletion-mark.json`), uploadedAt: new Date(object.lastModified) });
  }
  return blocks.sort((a, b) => a.thanos.downsample.resolution - b.thanos.downsample.resolution || a.minTime - b.minTime || a.maxTime - b.maxTime);
}

export interface RangeResult {
  resultType: string;
  result: { metric: Record<string, string>; values: [number, string][] }[];
}

/**
 * A range query's answer (resultType and result), with extra API parameters (dedup, max_source_resolution, ...). The
 * rest of the data object (0.42's query `analysis`, which the frontend and the querier fill in differently) is left out.
 */
export async function rangeQuery(
  httpUrl: string,
  promql: string,
  range: { start: number; end: number; step: number },
  extra: Record<string, string> = {},
): Promise<RangeResult> {
  const params = new URLSearchParams({ query: promql, start: String(range.start), end: String(range.end), step: String(range.step), ...extra });
  const response = await getJson<{ status: string; data: RangeResult }>(`${httpUrl}/api/v1/query_range?${params.toString()}`);
  if (response.status !== "success") throw new Error(`${promql}: ${JSON.stringify(response)}`);
  return { resultType: response.data.resultType, result: response.data.result };
}
