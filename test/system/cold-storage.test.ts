// Cold storage against the real programs: Thanos 0.42.4 (the default version) store gateway, compactor, query frontend
// and querier, started as host processes with the args their components register under the mocks harness (adapted as
// test/sandbox/coldStorage.ts says: loopback listen addresses, host paths for the data directory and the objstore
// Secret's file, host stand-ins for addresses only cluster DNS resolves), on a real MinIO, with Debian's Prometheus and
// promtool. The tests run in order and share MinIO; the frontend test reuses the compactor test's bucket. Needs root.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { stringify } from "yaml";
import { DEFAULT_THANOS_VERSION } from "../../lib/thanosVersion";
import { referenceConfig, REFERENCE_SECRET_KEYS, withAllComponents } from "../harness/configs";
import {
  bucketBlocks,
  frontendSplitQueries,
  makeBlocks,
  metricValue,
  rangeQuery,
  renderColdStorage,
  startComponent,
  uploadBlocks,
  type BucketBlock,
  type HostComponent,
  type RenderedColdStorage,
} from "../sandbox/coldStorage";
import { minioBinary, startMinio, type MinioServer } from "../sandbox/minio";
import { freePorts, getJson, LOOPBACK } from "../sandbox/ports";
import { runCommand } from "../harness/command";
import { createRunDir, processesMentioning, ProcessRegistry, sleep, startUntilReady, waitFor } from "../sandbox/process";
import { ensurePrometheusInstalled, startHostPrometheus } from "../sandbox/prometheus";
import { instantQuery, querierArgsOnHost, queryStores, startQuerier, startSidecar, thanosBinary, thanosReleaseDir, type HostThanos } from "../sandbox/thanos";

const SIDECAR_SERVICE = "dnssrv+_grpc._tcp.sidecar.thanos.svc.cluster.local";
const STORE_SERVICE = "dnssrv+_grpc._tcp.thanos-store.thanos.svc.cluster.local";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const registry = new ProcessRegistry();
const runDir = createRunDir("cold-storage");
let minio: MinioServer;
let binary: string;
const measured: Record<string, unknown> = {};

before(async () => {
  binary = thanosBinary(await thanosReleaseDir(DEFAULT_THANOS_VERSION));
  ensurePrometheusInstalled();
  minio = await startMinio({ binary: await minioBinary(), runDir, registry });
  for (const bucket of ["history", "compact", "overlap"]) await minio.createBucket(bucket);
});

after(async () => {
  console.log(`measured: ${JSON.stringify(measured, null, 2)}`);
  await registry.stopAll();
  assert.deepEqual(processesMentioning(runDir), [], "a process of this run is still running");
});

/**
 * The stack's config for one bucket: every cold storage component on, no VMs. The compactor keeps raw data 3 days and
 * 5m data 10 days (the shortest the config allows) and deletes marked blocks after 15 s, so a test sees it happen.
 */
function render(bucket: string): Promise<RenderedColdStorage> {
  const config = withAllComponents(referenceConfig()) as Record<string, any>;
  config.vms = [];
  delete config.sshPrivateKey;
  config.objstore = minio.objstoreSettings(bucket);
  config.objstoreSecretKey = minio.secretKey;
  config.kubernetes.compactor = { enabled: true, retention: { raw: "3d", fiveMinutes: "10d", oneHour: "0d" }, deleteDelay: "15s" };
  return renderColdStorage(config, REFERENCE_SECRET_KEYS.filter((key) => key !== "sshPrivateKey"));
}

/** The querier from its rendered args, the Services it dials replaced by their host stand-ins. */
async function startQuerierFor(rendered: RenderedColdStorage, name: string, standIns: { sidecars: string[]; stores: string[] }): Promise<HostThanos> {
  const [grpcPort, httpPort] = await freePorts(2);
  const args = querierArgsOnHost(rendered.querier, {
    grpcAddress: `${LOOPBACK}:${grpcPort}`,
    httpAddress: `${LOOPBACK}:${httpPort}`,
    discovered: { [SIDECAR_SERVICE]: standIns.sidecars, [STORE_SERVICE]: standIns.stores },
  });
  const querier = await startQuerier(binary, args, { runDir, name, registry, readyTimeoutMs: 90_000 });
  const expected = standIns.sidecars.length + standIns.stores.length;
  await waitFor(`${expected} healthy stores in ${name}`, async () => {
    const stores = await queryStores(querier.httpUrl);
    return stores.filter((store) => store.lastError === null).length === expected ? true : undefined;
  });
  return querier;
}

const objstoreFile = (bucket: string, rendered: RenderedColdStorage) => {
  const file = path.join(runDir, `objstore-${bucket}.yml`);
  fs.writeFileSync(file, rendered.objstoreYaml, { mode: 0o600 });
  return file;
};

const span = (block: BucketBlock) => `${((block.maxTime - block.minTime) / HOUR).toFixed(2)}h`;
const describeBlocks = (blocks: BucketBlock[]) =>
  blocks.map((block) => `${block.thanos.downsample.resolution === 0 ? "raw" : `${block.thanos.downsample.resolution / 60_000}m`} L${block.compaction.level} ${new Date(block.minTime).toISOString()}+${span(block)}${block.markedForDeletion ? " marked" : ""}`);

test("history from the bucket: the store gateway answers for a block no Prometheus holds; without it, nothing", { timeout: 420_000 }, async () => {
  const rendered = await render("history");
  // The first Prometheus cuts a block every 30 s; its sidecar (with the objstore Secret's content) ships it.
  const old = await startHostPrometheus({ name: "prom-old", runDir, registry, externalLabels: { cluster: "history" }, minBlockDuration: "30s", maxBlockDuration: "30s" });
  const shipper = await startSidecar({ binary, name: "sidecar-old", runDir, registry, prometheus: { url: old.url, tsdbDir: old.tsdbDir }, objstoreYaml: rendered.objstoreYaml });
  const [shipped] = await waitFor("a block shipped by the sidecar", async () => {
    const blocks = (await bucketBlocks(minio, "history")).filter((block) => block.thanos.labels.cluster === "history");
    return blocks.length > 0 ? blocks : undefined;
  }, 240_000, 2_000);
  assert.equal(shipped.thanos.source, "sidecar");
  // That Prometheus and its TSDB are gone; a second one with a fresh TSDB is what the cluster has now.
  await shipper.stop();
  await old.stop();
  fs.rmSync(old.tsdbDir, { recursive: true, force: true });
  const live = await startHostPrometheus({ name: "prom-live", runDir, registry, externalLabels: { cluster: "live" } });
  const liveSidecar = await startSidecar({ binary, name: "sidecar-live", runDir, registry, prometheus: { url: live.url, tsdbDir: live.tsdbDir } });

  const store = await startComponent(rendered.storeGateways[0], { binary, name: "store-history", runDir, registry, objstoreYaml: rendered.objstoreYaml });
  const querier = await startQuerierFor(rendered, "querier-history", { sidecars: [liveSidecar.grpcAddress], stores: [store.grpcAddress!] });
  const at = String((shipped.minTime + shipped.maxTime) / 2 / 1000);
  const history = await instantQuery(querier.httpUrl, `up{cluster="history"}`, { time: at });
  assert.equal(history.series.length, 1, JSON.stringify(history));
  assert.equal(history.series[0].value[1], "1");
  const fromPrometheus = await getJson<{ data: { result: unknown[] } }>(`${live.url}/api/v1/query?query=${encodeURIComponent('up{cluster="history"}')}&time=${at}`);
  assert.deepEqual(fromPrometheus.data.result, [], "the live Prometheus holds no such history");
  measured.history = { block: shipped.ulid, range: [new Date(shipped.minTime).toISOString(), new Date(shipped.maxTime).toISOString()], answeredAt: at, series: history.series };

  // The control: the same question without the store gateway.
  await store.process.stop();
  const without = await waitFor("the querier without the store gateway's series", async () => {
    const result = await instantQuery(querier.httpUrl, `up{cluster="history"}`, { time: at });
    return result.series.length === 0 ? result : undefined;
  });
  assert.deepEqual(without.series, []);
  // The querier itself still answers, from the live sidecar (which advertises its time range once Prometheus has data).
  await waitFor("up{cluster=live} through the querier", async () => ((await instantQuery(querier.httpUrl, `up{cluster="live"}`)).series.length > 0 ? true : undefined));
  await querier.stop();
  await liveSidecar.stop();
  await live.stop();
});

// Shared by the compactor test and the frontend test.
let compactRendered: RenderedColdStorage;
let compactQuerier: HostThanos;
const NOW = Math.floor(Date.now() / 60_000) * 60_000;

test("the compactor compacts a week of blocks, downsamples those spanning 40h, deletes what is past raw retention; kept raw data answers the same", { timeout: 900_000 }, async () => {
  compactRendered = await render("compact");
  // A week of one-minute samples, in the 2h blocks Prometheus would have made and shipped: at least one whole 2-day
  // window of them ends before the 3d raw retention, so its 5m copy must outlive it.
  const blocksDir = path.join(runDir, "history-blocks");
  await makeBlocks(blocksDir, {
    metric: "cold_test",
    series: [
      { selector: 'cold_test{series="a"}', value: (t) => (t / 60) % 97 },
      { selector: 'cold_test{series="b"}', value: (t) => (t / 60) % 13 },
    ],
    startSeconds: (NOW - 7 * DAY) / 1000,
    endSeconds: (NOW - 10 * 60_000) / 1000,
    stepSeconds: 60,
  });
  const uploaded = await uploadBlocks({ binary, blocksDir: path.join(blocksDir, "blocks"), objstoreFile: objstoreFile("compact", compactRendered), labels: { cluster: "compact" }, minio, bucket: "compact" });
  const before = await bucketBlocks(minio, "compact");
  assert.equal(before.length, uploaded.length);
  assert.ok(before.every((block) => block.compaction.level === 1 && block.thanos.downsample.resolution === 0 && block.maxTime - block.minTime <= 2 * HOUR));

  // The raw answer for a window whose data is kept (newer than the 3d raw retention), before compaction.
  const window = { start: (NOW - 2 * DAY) / 1000, end: (NOW - 3 * HOUR) / 1000, step: 300 };
  const raw = { max_source_resolution: "0s" };
  let store = await startComponent(compactRendered.storeGateways[0], { binary, name: "store-compact-1", runDir, registry, objstoreYaml: compactRendered.objstoreYaml });
  let querier = await startQuerierFor(compactRendered, "querier-compact-1", { sidecars: [], stores: [store.grpcAddress!] });
  const answerBefore = await rangeQuery(querier.httpUrl, "cold_test", window, raw);
  assert.equal(answerBefore.result.length, 2);
  assert.equal(answerBefore.result[0].values.length, (window.end - window.start) / window.step + 1);

  const runCompactor = async (name: string): Promise<HostComponent> => {
    const compactor = await startComponent(compactRendered.compactor, { binary, name, runDir, registry, objstoreYaml: compactRendered.objstoreYaml });
    await waitFor(`${name}: one compaction iteration`, async () => ((await metricValue(compactor.httpUrl, "thanos_compact_iterations_total")) >= 1 ? true : undefined), 600_000, 2_000);
    assert.equal(await metricValue(compactor.httpUrl, "thanos_compact_halted"), 0);
    return compactor;
  };
  const first = await runCompactor("compact-1");
  const afterFirst = await bucketBlocks(minio, "compact");
  await first.process.stop();
  const kept = afterFirst.filter((block) => !block.markedForDeletion);
  const rawKept = kept.filter((block) => block.thanos.downsample.resolution === 0);
  const fiveMinute = kept.filter((block) => block.thanos.downsample.resolution === 300_000);
  measured.compaction = {
    uploaded: before.length,
    afterFirstIteration: describeBlocks(afterFirst),
    marked: afterFirst.filter((block) => block.markedForDeletion).length,
  };
  // Compacted: raw blocks of level 2 filling an 8h window and of level 3 filling a 2d one (a block's times are those of
  // its first and last sample, so it spans a minute less than its window).
  const fills = (block: BucketBlock, window: number) => Math.floor(block.minTime / window) === Math.floor((block.maxTime - 1) / window) && block.maxTime - block.minTime > window / 2;
  assert.ok(rawKept.some((block) => block.compaction.level === 2 && fills(block, 8 * HOUR)), describeBlocks(afterFirst).join("\n"));
  assert.ok(afterFirst.some((block) => block.thanos.downsample.resolution === 0 && block.compaction.level === 3 && fills(block, 2 * DAY)), describeBlocks(afterFirst).join("\n"));
  // Downsampled: a 5m copy of every raw block spanning at least 40h, with the same sources.
  const spanning40h = afterFirst.filter((block) => block.thanos.downsample.resolution === 0 && block.maxTime - block.minTime >= 40 * HOUR);
  assert.ok(spanning40h.length > 0);
  for (const block of spanning40h) {
    assert.ok(fiveMinute.some((copy) => copy.minTime === block.minTime && copy.maxTime === block.maxTime), `no 5m copy of ${describeBlocks([block]).join("")}`);
  }
  assert.ok(fiveMinute.every((copy) => copy.maxTime - copy.minTime >= 40 * HOUR));
  // Retention: raw blocks that ended before now - 3d are marked, none newer that was not compacted away.
  const pastRetention = afterFirst.filter((block) => block.thanos.downsample.resolution === 0 && block.maxTime < NOW - 3 * DAY);
  assert.ok(pastRetention.length > 0 && pastRetention.every((block) => block.markedForDeletion), describeBlocks(pastRetention).join("\n"));
  assert.ok(rawKept.every((block) => block.maxTime >= NOW - 3 * DAY - 10 * 60_000), describeBlocks(rawKept).join("\n"));

  // Marked blocks are deleted once the delete delay (15 s) is over, at the next iteration (one starts at each start).
  await sleep(16_000);
  const second = await runCompactor("compact-2");
  await second.process.stop();
  const afterSecond = await bucketBlocks(minio, "compact");
  measured.compaction = { ...(measured.compaction as object), afterDeletion: describeBlocks(afterSecond) };
  assert.ok(!afterSecond.some((block) => block.markedForDeletion), describeBlocks(afterSecond).join("\n"));
  const keys = (await minio.listObjects("compact")).map((object) => object.key);
  for (const block of afterFirst.filter((candidate) => candidate.markedForDeletion)) {
    assert.ok(!keys.some((key) => key.startsWith(`${block.ulid}/`)), `${block.ulid} was marked but is still there`);
  }
  assert.ok(afterSecond.some((block) => block.thanos.downsample.resolution === 300_000 && block.maxTime < NOW - 3 * DAY), "the 5m copy outlives its raw block");

  // A fresh store gateway (rather than waiting out its 15m sync) sees the compacted blocks: the same raw answer.
  await querier.stop();
  await store.process.stop();
  store = await startComponent(compactRendered.storeGateways[0], { binary, name: "store-compact-2", runDir, registry, objstoreYaml: compactRendered.objstoreYaml });
  querier = await startQuerierFor(compactRendered, "querier-compact-2", { sidecars: [], stores: [store.grpcAddress!] });
  assert.deepEqual(await rangeQuery(querier.httpUrl, "cold_test", window, raw), answerBefore);
  compactQuerier = querier;
});

test("overlapping blocks from two sources with identical external labels halt the compactor, and the rendered alert fires on it", { timeout: 600_000 }, async () => {
  const rendered = await render("overlap");
  const file = objstoreFile("overlap", rendered);
  // Two Prometheus servers misconfigured with the same external labels: the same series over the same six hours.
  for (const [source, offset] of [["a", 0], ["b", 1000]] as const) {
    const dir = path.join(runDir, `overlap-${source}`);
    await makeBlocks(dir, {
      metric: "cold_overlap",
      series: [{ selector: 'cold_overlap{series="x"}', value: (t) => offset + ((t / 60) % 50) }],
      startSeconds: (NOW - DAY - 6 * HOUR) / 1000,
      endSeconds: (NOW - DAY) / 1000,
      stepSeconds: 60,
    });
    await uploadBlocks({ binary, blocksDir: path.join(dir, "blocks"), objstoreFile: file, labels: { cluster: "same" }, minio, bucket: "overlap" });
  }
  const compactor = await startComponent(rendered.compactor, { binary, name: "compact-overlap", runDir, registry, objstoreYaml: rendered.objstoreYaml });
  await waitFor("thanos_compact_halted = 1", async () => ((await metricValue(compactor.httpUrl, "thanos_compact_halted")) === 1 ? true : undefined), 300_000, 2_000);
  assert.ok(compactor.process.running, "halted, not exited");
  assert.match(fs.readFileSync(compactor.process.logFile, "utf8"), /critical error detected; halting.*overlap/);

  // The rendered PrometheusRule, loaded by a real Prometheus that scrapes the compactor with the labels
  // prometheus-operator gives this ServiceMonitor's series (job = the Service's name, namespace = its namespace).
  const home = path.join(runDir, "prom-rules");
  fs.mkdirSync(home, { recursive: true });
  const rulesFile = path.join(home, "rules.yml");
  fs.writeFileSync(rulesFile, stringify({ groups: rendered.ruleGroups }));
  const check = await runCommand("promtool", ["check", "rules", rulesFile]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const [port] = await freePorts(1);
  fs.writeFileSync(
    path.join(home, "prometheus.yml"),
    stringify({
      global: { scrape_interval: "1s", evaluation_interval: "1s" },
      rule_files: [rulesFile],
      scrape_configs: [
        {
          job_name: "thanos-compact",
          static_configs: [{ targets: [new URL(compactor.httpUrl).host], labels: { namespace: "thanos" } }],
        },
      ],
    }),
  );
  const url = `http://${LOOPBACK}:${port}`;
  await startUntilReady(
    {
      name: "prom-rules",
      command: "/usr/bin/prometheus",
      args: [`--config.file=${path.join(home, "prometheus.yml")}`, `--storage.tsdb.path=${path.join(home, "tsdb")}`, `--web.listen-address=${LOOPBACK}:${port}`],
      logFile: path.join(runDir, "logs", "prom-rules.log"),
      registry,
    },
    `${url}/-/ready`,
  );
  type Alert = { labels: Record<string, string>; state: string };
  const halted = await waitFor("ThanosCompactHalted pending or firing", async () => {
    const alerts = (await getJson<{ data: { alerts: Alert[] } }>(`${url}/api/v1/alerts`)).data.alerts;
    return alerts.find((alert) => alert.labels.alertname === "ThanosCompactHalted");
  }, 60_000, 1_000);
  assert.ok(["pending", "firing"].includes(halted.state), JSON.stringify(halted));
  const expr = (rendered.ruleGroups as { rules: { alert: string; expr: string }[] }[])[0].rules.find((rule) => rule.alert === "ThanosCompactHalted")!.expr;
  const evaluated = await getJson<{ data: { result: { value: [number, string] }[] } }>(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  assert.deepEqual(evaluated.data.result.map((sample) => sample.value[1]), ["1"]);
  measured.overlap = { halted: 1, alert: halted, expr };
  await compactor.process.stop();
});

test("the query frontend splits a range query, answers what the querier answers, and serves the repeat from its cache", { timeout: 300_000 }, async () => {
  assert.ok(compactQuerier, "needs the compactor test's querier");
  const frontend = await startComponent(compactRendered.queryFrontend, {
    binary,
    name: "frontend",
    runDir,
    registry,
    replace: { "query-frontend.downstream-url": compactQuerier.httpUrl },
  });
  // Two days ending 3h ago (older than the cache's 1m freshness limit), split by the 24h interval. Start and end are
  // multiples of the step: the frontend evaluates its parts at multiples of the step, the querier at start + k*step.
  const step = 300;
  const aligned = (ms: number) => Math.floor(ms / 1000 / step) * step;
  const range = { start: aligned(NOW - 2 * DAY - 3 * HOUR), end: aligned(NOW - 3 * HOUR), step };
  const params = { max_source_resolution: "0s" };
  const querierRequests = () => metricValue(compactQuerier.httpUrl, "http_requests_total", { handler: "query_range" });
  const cacheHits = async () => {
    let total = 0;
    for (const metric of ["cortex_cache_hits_total", "thanos_cache_hits_total"]) total += await metricValue(frontend.httpUrl, metric, { tripperware: "query_range" });
    return total;
  };

  const direct = await rangeQuery(compactQuerier.httpUrl, "cold_test", range, params);
  const requestsBefore = await querierRequests();
  const first = await rangeQuery(frontend.httpUrl, "cold_test", range, params);
  const requestsAfterFirst = await querierRequests();
  const splitCount = await frontendSplitQueries(frontend.httpUrl);
  const hitsAfterFirst = await cacheHits();
  assert.deepEqual(first, direct, "the frontend's answer is the querier's");
  assert.ok(splitCount >= 3, `split into ${splitCount}`);
  assert.equal(requestsAfterFirst - requestsBefore, splitCount, "each part went to the querier");

  const repeat = await rangeQuery(frontend.httpUrl, "cold_test", range, params);
  const requestsAfterRepeat = await querierRequests();
  const hitsAfterRepeat = await cacheHits();
  assert.deepEqual(repeat, direct);
  assert.equal(requestsAfterRepeat, requestsAfterFirst, "the repeat never reached the querier");
  assert.ok(hitsAfterRepeat > hitsAfterFirst, `cache hits ${hitsAfterFirst} -> ${hitsAfterRepeat}`);
  measured.frontend = {
    range: [new Date(range.start * 1000).toISOString(), new Date(range.end * 1000).toISOString()],
    series: first.result.length,
    samples: first.result.reduce((sum, series) => sum + series.values.length, 0),
    splitQueries: splitCount,
    querierRequests: { first: requestsAfterFirst - requestsBefore, repeat: requestsAfterRepeat - requestsAfterFirst },
    cacheHits: { afterFirst: hitsAfterFirst, afterRepeat: hitsAfterRepeat },
  };
  await frontend.process.stop();
});
