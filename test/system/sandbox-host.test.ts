// Smoke test of the host side of the sandbox: MinIO with a bucket, a host Prometheus (2h blocks) with a Thanos sidecar
// shipping to MinIO, a querier over that sidecar, and the release mirror; then everything stops and no port is left open.
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { renderObjstoreYaml } from "../../lib/objstore";
import { DEFAULT_THANOS_VERSION } from "../../lib/thanosVersion";
import { startThanosMirror, type ThanosMirror } from "../sandbox/mirror";
import { minioBinary, SECRET_KEY_MARKER, startMinio, type MinioServer } from "../sandbox/minio";
import { freePorts, httpRequest, listeningPorts } from "../sandbox/ports";
import { createRunDir, filesContaining, ProcessRegistry, processesMentioning, waitFor } from "../sandbox/process";
import { startHostPrometheus, type HostPrometheus } from "../sandbox/prometheus";
import {
  instantQuery,
  queryStores,
  startQuerier,
  startSidecar,
  thanosBinary,
  thanosReleaseDir,
  type HostSidecar,
  type HostThanos,
} from "../sandbox/thanos";

const VERSION = DEFAULT_THANOS_VERSION;
const BUCKET = "thanos";
const LABELS = { cluster: "prom_k8s", prometheus_replica: "0" };

const registry = new ProcessRegistry();
const runDir = createRunDir("sandbox-host");
let releaseDir: string;
let minio: MinioServer;
let prometheus: HostPrometheus;
let sidecar: HostSidecar;
let querier: HostThanos;
let mirror: ThanosMirror;

const ports = () => [
  minio.port,
  prometheus.port,
  ...[sidecar, querier].flatMap((t) => [t.grpcAddress, new URL(t.httpUrl).host].map((a) => Number(a.split(":")[1]))),
  Number(new URL(mirror.baseUrl).port),
];

/** Throws with the log tail of any sandbox process that died, so a crash is reported as such, not as a timeout. */
function assertAllRunning(): void {
  for (const managed of [minio.process!, prometheus.process!, sidecar.process, querier.process]) {
    assert.ok(managed.running, `${managed.name} exited (${managed.describeExit()}); last log lines:\n${managed.logTail()}`);
  }
}

before(async () => {
  const started = Date.now();
  const [binary, dir] = await Promise.all([minioBinary(), thanosReleaseDir(VERSION)]);
  releaseDir = dir;
  [minio, prometheus] = await Promise.all([
    startMinio({ binary, runDir, registry }),
    startHostPrometheus({ name: "prometheus-k8s-0", runDir, externalLabels: LABELS, registry }),
  ]);
  await minio.createBucket(BUCKET);
  sidecar = await startSidecar({
    binary: thanosBinary(releaseDir),
    name: "sidecar-k8s-0",
    runDir,
    prometheus,
    objstoreYaml: renderObjstoreYaml(minio.objstoreSettings(BUCKET), minio.secretKey),
    registry,
  });
  const [grpcPort, httpPort] = await freePorts(2);
  querier = await startQuerier(
    thanosBinary(releaseDir),
    [
      "query",
      `--grpc-address=127.0.0.1:${grpcPort}`,
      `--http-address=127.0.0.1:${httpPort}`,
      "--query.replica-label=prometheus_replica",
      `--endpoint=${sidecar.grpcAddress}`,
    ],
    { runDir, registry },
  );
  mirror = await startThanosMirror({ releases: [{ version: VERSION, dir: releaseDir }], registry });
  console.log(`sandbox started in ${Date.now() - started} ms (run dir ${runDir})`);
});

after(() => registry.stopAll());

test("MinIO has the bucket, and the sidecar's objstore file is private", async () => {
  assert.deepEqual(await minio.listObjects(BUCKET), []);
  assert.equal(fs.statSync(sidecar.objstoreConfigFile!).mode & 0o777, 0o600);
  assert.ok(minio.secretKey.startsWith(SECRET_KEY_MARKER));
});

test("the querier lists the sidecar with its external labels", async () => {
  const stores = await waitFor("the sidecar in /api/v1/stores", async () => {
    assertAllRunning();
    const found = (await queryStores(querier.httpUrl)).find((store) => store.name === sidecar.grpcAddress);
    return found && found.labelSets.length > 0 ? found : undefined;
  }, 20_000);
  assert.equal(stores.type, "sidecar");
  assert.equal(stores.lastError, null);
  assert.deepEqual(stores.labelSets, [LABELS]);
});

test("`up` through the querier carries the cluster label; dedup drops the replica label", async () => {
  const deduplicated = await waitFor("a sample of up", async () => {
    assertAllRunning();
    const result = await instantQuery(querier.httpUrl, "up");
    return result.series.length > 0 ? result : undefined;
  }, 20_000);
  assert.deepEqual(deduplicated.series.map((s) => s.metric), [{ __name__: "up", cluster: "prom_k8s", instance: prometheus.address, job: "prometheus" }]);
  const raw = await instantQuery(querier.httpUrl, "up", { dedup: false });
  assert.deepEqual(raw.series.map((s) => s.metric.prometheus_replica), ["0"]);
});

test("an external-label-only selector comes back empty with a warning", async () => {
  const result = await instantQuery(querier.httpUrl, '{cluster="prom_k8s"}');
  assert.deepEqual(result.series, []);
  assert.ok(result.warnings.some((w) => w.includes("no matchers specified")), result.warnings.join("\n"));
});

test("the mirror serves the tarball its sha256sums.txt describes, and counts downloads", async () => {
  const sums = await httpRequest({ url: mirror.sha256sumsUrlTemplate.replace("{version}", VERSION) });
  assert.equal(sums.status, 200);
  const tarballName = `thanos-${VERSION}.linux-amd64.tar.gz`;
  const expected = /^([0-9a-f]{64}) {2}(\S+)$/m.exec(sums.body.toString("utf8"));
  assert.equal(expected?.[2], tarballName);
  const tarball = await httpRequest({ url: mirror.tarballUrl(VERSION), timeoutMs: 60_000 });
  assert.equal(tarball.status, 200);
  assert.equal(crypto.createHash("sha256").update(tarball.body).digest("hex"), expected[1]);
  assert.equal(mirror.downloads(VERSION).length, 1);

  mirror.setFault(VERSION, "corrupt-tarball");
  const corrupted = await httpRequest({ url: mirror.tarballUrl(VERSION), timeoutMs: 60_000 });
  assert.notEqual(crypto.createHash("sha256").update(corrupted.body).digest("hex"), expected[1]);
  mirror.setFault(VERSION, "wrong-sha256sums");
  const wrongSums = await httpRequest({ url: mirror.sha256sumsUrlTemplate.replace("{version}", VERSION) });
  assert.doesNotMatch(wrongSums.body.toString("utf8"), new RegExp(expected[1]));
  mirror.setFault(VERSION, undefined);
  assert.equal((await httpRequest({ url: mirror.tarballUrl("0.0.1") })).status, 404);
});

test("MinIO comes back on the same port and data after a stop", async () => {
  const pid = minio.process!.pid;
  await minio.stop();
  await assert.rejects(minio.listObjects(BUCKET), /ECONNREFUSED/);
  await minio.start();
  assert.notEqual(minio.process!.pid, pid);
  // The bucket lives in the data directory, so listing it works again.
  assert.deepEqual(await minio.listObjects(BUCKET), []);
});

test("a sidecar that never gets ready fails within its bound, shows its log and is stopped", async () => {
  // Unequal block durations: a sidecar that uploads keeps retrying its preflight and never becomes ready.
  const compacting = await startHostPrometheus({
    name: "prometheus-compacting",
    runDir,
    externalLabels: { cluster: "prom_bad" },
    maxBlockDuration: "4h",
    registry,
  });
  const started = Date.now();
  const error = await startSidecar({
    binary: thanosBinary(releaseDir),
    name: "sidecar-compacting",
    runDir,
    prometheus: compacting,
    objstoreYaml: renderObjstoreYaml(minio.objstoreSettings(BUCKET), minio.secretKey),
    readyTimeoutMs: 5_000,
    registry,
  }).then(
    () => assert.fail("the sidecar became ready beside a Prometheus with min != max block duration"),
    (reason: Error) => reason,
  );
  assert.ok(Date.now() - started < 20_000);
  assert.match(error.message, /^sidecar-compacting: http:\/\/127\.0\.0\.1:\d+\/-\/ready not ready after 5000 ms/);
  assert.match(error.message, /Compaction needs to be disabled/);
  // Only the Prometheus is left: startSidecar stopped what it started.
  assert.deepEqual(processesMentioning(compacting.tsdbDir), [compacting.process!.pid]);
  await compacting.stop();
});

test("the secret key appears in no log", () => {
  assert.deepEqual(filesContaining(path.join(runDir, "logs"), minio.secretKey), []);
});

test("after stopping everything no port is left listening", async () => {
  const used = ports();
  await registry.stopAll();
  assert.deepEqual(await listeningPorts(used), []);
  assert.deepEqual(processesMentioning(runDir), []);
});
