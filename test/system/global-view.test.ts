// System tests of the global view against the real programs (test/sandbox/globalView.ts): the VmSidecar component's own
// command strings and stdin payload run over a real SSH session on a systemd VM with Debian's Prometheus, the
// querier runs with the very args the Querier component renders, blocks go to a real MinIO. The tests share one
// sandbox and run in order: install, query, upload, re-run, change, faults, destroy, and last the secret check over
// everything before. Needs root (systemd-nspawn); cold caches build Thanos, MinIO and the VM image first.
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { DEFAULT_THANOS_VERSION } from "../../lib/thanosVersion";
import { CONFIG_DIR, INSTALL_ROOT, OBJSTORE_CONFIG_PATH, UNIT_NAME, UNIT_PATH } from "../../lib/vm/paths";
import {
  K8S_CLUSTER,
  REPLICA_LABEL,
  startGlobalViewSandbox,
  VM_CLUSTER,
  type GlobalViewSandbox,
  type VmChange,
  type VmCommandResult,
} from "../sandbox/globalView";
import { SECRET_KEY_MARKER } from "../sandbox/minio";
import { freePort, httpRequest, listeningPorts } from "../sandbox/ports";
import { filesContaining, waitFor } from "../sandbox/process";
import { instantQuery, queryStores, type HostThanos } from "../sandbox/thanos";
import { PROMETHEUS_DATA_DIR } from "../sandbox/vm";

// Everything this test process prints, the test runner's report included, is kept: the secret test searches it.
const captured: Buffer[] = [];
for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  const tee = (chunk: string | Uint8Array, ...rest: unknown[]) => {
    captured.push(Buffer.from(chunk));
    return write(chunk, ...rest);
  };
  stream.write = tee;
}

const VERSION = DEFAULT_THANOS_VERSION;
/** Not installed on the VM, so an install of it downloads: the checksum faults are served for it. */
const OTHER_VERSION = "0.34.1";
// Prometheus cuts a block every block duration (once its head spans 1.5 of them): 30s gives blocks within a minute.
const BLOCK_DURATION = "30s";
// Not the default 127.0.0.2, so the suite can run while a `make sandbox` demo or the e2e tests use that.
const VM_ADDRESS = "127.0.0.3";

let sandbox: GlobalViewSandbox;
let querier: HostThanos;
/** The VM entry as last applied successfully; later installs start from it. */
let current: VmChange = {};
const timings: Record<string, number> = {};

before(async () => {
  const started = Date.now();
  sandbox = await startGlobalViewSandbox({
    vmAddress: VM_ADDRESS,
    vmBlockDuration: BLOCK_DURATION,
    extraThanosVersions: [OTHER_VERSION],
    log: (line) => console.log(`sandbox: ${line}`),
  });
  timings.sandboxStart = Date.now() - started;
  console.log(`sandbox up in ${timings.sandboxStart} ms (run dir ${sandbox.runDir})`);
});

after(async () => {
  console.log(`timings (ms): ${JSON.stringify(timings)}`);
  await sandbox?.stop();
});

const report = (result: VmCommandResult) =>
  `${result.name} exited ${result.code} after ${result.durationMs} ms\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;

function assertSucceeded(result: VmCommandResult): void {
  assert.equal(result.code, 0, report(result));
}

/** The installed files and releases, byte for byte (hashes, modes, owners, times): equal means untouched. */
function vmSnapshot(): Promise<string> {
  return sandbox.vmShell(
    `sha256sum ${UNIT_PATH} ${CONFIG_DIR}/*; ls -lAR --time-style=full-iso ${CONFIG_DIR} ${INSTALL_ROOT}; systemctl is-enabled ${UNIT_NAME}`,
  );
}

async function readyStatus(url: string): Promise<number> {
  return (await httpRequest({ url, timeoutMs: 5_000 })).status;
}

/** Waits until `up{cluster="prom_vm"}` comes back through the querier: the VM sidecar serves queries. */
function vmSeriesThroughQuerier(timeoutMs = 30_000) {
  return waitFor(
    "up{cluster=prom_vm} through the querier",
    async () => {
      const result = await instantQuery(querier.httpUrl, `up{cluster="${VM_CLUSTER}"}`);
      return result.series.length > 0 ? result : undefined;
    },
    timeoutMs,
  );
}

test("install over SSH: downloads from the mirror, verifies sha256, private objstore file, ready as the TSDB owner", { timeout: 180_000 }, async () => {
  sandbox.mirror.clearRequests();
  const result = await sandbox.install();
  timings.firstInstall = result.durationMs;
  console.log(`first install on the VM: ${result.durationMs} ms`);
  assertSucceeded(result);

  const release = sandbox.releases.find((r) => r.version === VERSION)!;
  const tarballName = `thanos-${VERSION}.linux-amd64.tar.gz`;
  const sums = fs.readFileSync(path.join(release.dir, "sha256sums.txt"), "utf8");
  const expectedSha256 = new RegExp(`^([0-9a-f]{64}) +${tarballName.replaceAll(".", "\\.")}$`, "m").exec(sums)![1];
  assert.ok(result.stdout.includes(`downloading ${sandbox.mirror.tarballUrl(VERSION)}\n`), report(result));
  assert.ok(result.stdout.includes(`installed thanos ${VERSION} (amd64, sha256 ${expectedSha256})`), report(result));
  assert.ok(
    result.stdout.includes(`restarted thanos-sidecar.service: ready at http://${VM_ADDRESS}:10902/-/ready (thanos ${VERSION} as prometheus)`),
    report(result),
  );
  assert.deepEqual(
    sandbox.mirror.requests().map((r) => `${r.method} ${r.file} ${r.version} ${r.status}`),
    [`GET tarball ${VERSION} 200`, `GET sha256sums ${VERSION} 200`],
  );

  // The binary on the VM is the release's, and its recorded checksum is the verified one.
  const binarySha256 = (await sandbox.vmShell(`sha256sum ${INSTALL_ROOT}/thanos-${VERSION}/thanos`)).split(" ")[0];
  const localSha256 = crypto.createHash("sha256").update(fs.readFileSync(path.join(release.dir, "thanos"))).digest("hex");
  assert.equal(binarySha256, localSha256);
  assert.equal((await sandbox.vmShell(`cat ${INSTALL_ROOT}/thanos-${VERSION}/tarball.sha256`)).trim(), expectedSha256);

  // The objstore config: the payload's YAML exactly (compared by hash: its content is secret), private to the sidecar.
  const tsdbOwner = (await sandbox.vmShell(`stat -c %U ${PROMETHEUS_DATA_DIR}`)).trim();
  assert.equal(tsdbOwner, "prometheus");
  assert.equal((await sandbox.vmShell(`stat -c '%U:%G %a' ${OBJSTORE_CONFIG_PATH}`)).trim(), `${tsdbOwner}:${tsdbOwner} 400`);
  assert.equal((await sandbox.vmShell(`stat -c '%U:%G %a' ${CONFIG_DIR}`)).trim(), `root:${tsdbOwner} 750`);
  const objstoreSha256 = crypto.createHash("sha256").update(sandbox.expectedObjstoreYaml()).digest("hex");
  assert.equal((await sandbox.vmShell(`sha256sum ${OBJSTORE_CONFIG_PATH}`)).split(" ")[0], objstoreSha256);

  // The unit is installed and enabled, and its process runs as the TSDB owner.
  assert.equal((await sandbox.vmShell(`systemctl is-enabled ${UNIT_NAME}`)).trim(), "enabled");
  const state = await sandbox.sidecarUnitState();
  assert.equal(state.activeState, "active");
  assert.ok(state.mainPid > 0);
  assert.equal((await sandbox.vmShell(`ps -o user= -p ${state.mainPid}`)).trim(), tsdbOwner);
  assert.match(await sandbox.vmShell(`cat ${UNIT_PATH}`), /^User=prometheus$/m);
  assert.equal(await readyStatus(sandbox.vmReadyUrl), 200);
});

test("global view: the querier lists all three sidecars with their labels, `up` spans both clusters, replicas deduplicate", { timeout: 120_000 }, async () => {
  // Started only now, as it reaches the VM sidecar: from 0.40 a querier is ready after its first endpoint discovery,
  // which waits out the info timeout (30s) for an endpoint that does not answer.
  const args = await sandbox.querierArgs();
  const [k8s0, k8s1] = sandbox.k8sSidecars;
  assert.ok(
    // The stack's order (the sidecar Service first, then the VM), the Service's pods being the host stand-ins here.
    args.includes(`--endpoint.sd-config=endpoints:\n  - address: ${k8s0.grpcAddress}\n  - address: ${k8s1.grpcAddress}\n  - address: ${sandbox.vmGrpcAddress}\n`),
    args.join("\n"),
  );
  assert.ok(args.includes(`--query.replica-label=${REPLICA_LABEL}`));
  const started = Date.now();
  querier = await sandbox.startQuerier(args);
  console.log(`querier ready in ${Date.now() - started} ms`);

  const expected = [
    { name: sandbox.vmGrpcAddress, labelSets: [{ cluster: VM_CLUSTER }] },
    { name: k8s0.grpcAddress, labelSets: [{ cluster: K8S_CLUSTER, [REPLICA_LABEL]: "0" }] },
    { name: k8s1.grpcAddress, labelSets: [{ cluster: K8S_CLUSTER, [REPLICA_LABEL]: "1" }] },
  ].sort((a, b) => a.name.localeCompare(b.name));
  const stores = await waitFor(
    "all three sidecars healthy in /api/v1/stores",
    async () => {
      const found = await queryStores(querier.httpUrl);
      return found.length === 3 && found.every((store) => store.lastError === null && store.labelSets.length > 0) ? found : undefined;
    },
    60_000,
  );
  assert.deepEqual(
    stores.map((store) => ({ name: store.name, labelSets: store.labelSets })).sort((a, b) => a.name.localeCompare(b.name)),
    expected,
  );
  assert.deepEqual(stores.map((store) => store.type), ["sidecar", "sidecar", "sidecar"]);

  const vmInstance = new URL(sandbox.vm.prometheusUrl).host;
  const k8sInstance = sandbox.k8sPrometheus[0].address;
  const metrics = (series: { metric: Record<string, string> }[]) =>
    series.map((s) => s.metric).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  // Each replica's first scrape lands on its own schedule: wait until every sidecar has a sample before judging dedup.
  const both = await waitFor(
    "`up` from the VM and from both replicas (dedup=false)",
    async () => {
      const result = await instantQuery(querier.httpUrl, "up", { dedup: false });
      return result.series.length >= 3 ? result : undefined;
    },
    30_000,
  );
  assert.deepEqual(metrics(both.series), [
    { __name__: "up", cluster: K8S_CLUSTER, instance: k8sInstance, job: "prometheus", [REPLICA_LABEL]: "0" },
    { __name__: "up", cluster: K8S_CLUSTER, instance: k8sInstance, job: "prometheus", [REPLICA_LABEL]: "1" },
    { __name__: "up", cluster: VM_CLUSTER, instance: vmInstance, job: "prometheus" },
  ]);

  const deduplicated = await instantQuery(querier.httpUrl, "up", { dedup: true });
  assert.deepEqual(metrics(deduplicated.series), [
    { __name__: "up", cluster: K8S_CLUSTER, instance: k8sInstance, job: "prometheus" },
    { __name__: "up", cluster: VM_CLUSTER, instance: vmInstance, job: "prometheus" },
  ]);
  assert.ok(deduplicated.series.every((s) => s.value[1] === "1"));
});

test("an external-label-only selector returns nothing with a warning; with a metric name it returns the VM's series", async () => {
  const labelOnly = await instantQuery(querier.httpUrl, `{cluster="${VM_CLUSTER}"}`);
  assert.deepEqual(labelOnly.series, []);
  assert.ok(
    labelOnly.warnings.some((warning) => warning.includes("no matchers specified (excluding external labels)")),
    `warnings: ${JSON.stringify(labelOnly.warnings)}`,
  );
  const withName = await vmSeriesThroughQuerier();
  assert.deepEqual(
    withName.series.map((s) => s.metric),
    [{ __name__: "up", cluster: VM_CLUSTER, instance: new URL(sandbox.vm.prometheusUrl).host, job: "prometheus" }],
  );
  assert.deepEqual(withName.warnings, []);
});

test("upload: a block of the VM's Prometheus lands in MinIO, its meta.json carrying the external labels", { timeout: 180_000 }, async () => {
  const block = await waitFor(
    "a VM block in the bucket",
    async () => (await sandbox.bucketBlocks()).find((b) => b.thanos.labels.cluster === VM_CLUSTER),
    150_000,
    2_000,
  );
  assert.deepEqual(block.thanos.labels, { cluster: VM_CLUSTER });
  assert.equal(block.thanos.source, "sidecar");
  assert.ok(block.maxTime - block.minTime <= 30_000, `block spans ${block.maxTime - block.minTime} ms`);
  // It is a block of the VM's TSDB, and the shipper recorded it as uploaded.
  assert.ok((await sandbox.vmTsdbBlocks()).includes(block.ulid));
  const shipped = JSON.parse(await sandbox.vmShell(`cat ${PROMETHEUS_DATA_DIR}/thanos.shipper.json`)) as { uploaded: string[] };
  assert.ok(shipped.uploaded.includes(block.ulid), JSON.stringify(shipped));
});

test("idempotence: a second install downloads nothing and does not restart the sidecar", async () => {
  const before = await sandbox.sidecarUnitState();
  const files = await vmSnapshot();
  sandbox.mirror.clearRequests();
  const result = await sandbox.install(current);
  timings.noopInstall = result.durationMs;
  console.log(`no-op re-run of the install: ${result.durationMs} ms`);
  assertSucceeded(result);
  assert.match(result.stdout, /thanos 0\.42\.4 is already installed in \/opt\/thanos-global-view\/thanos-0\.42\.4: no download/);
  assert.match(result.stdout, /no changes: .* the sidecar was not restarted/);
  assert.deepEqual(sandbox.mirror.requests(), []);
  assert.deepEqual(await sandbox.sidecarUnitState(), before);
  assert.equal(await vmSnapshot(), files);
});

test("a change (log level) restarts the sidecar once and it is ready again", { timeout: 120_000 }, async () => {
  const before = await sandbox.sidecarUnitState();
  const since = new Date();
  const change: VmChange = { vm: { logLevel: "debug" } };
  const result = await sandbox.install(change);
  assertSucceeded(result);
  current = change;
  assert.match(result.stdout, /changing: \/etc\/systemd\/system\/thanos-sidecar\.service\n/);
  assert.match(result.stdout, /restarted thanos-sidecar\.service: ready/);
  assert.match(await sandbox.vmShell(`cat ${UNIT_PATH}`), /--log\.level=debug/);

  const after = await sandbox.sidecarUnitState();
  assert.equal(after.activeState, "active");
  assert.notEqual(after.mainPid, before.mainPid);
  assert.notEqual(after.invocationId, before.invocationId);
  assert.equal(after.nRestarts, 0);
  const journal = await sandbox.vmJournal({ unit: UNIT_NAME, since });
  assert.equal(journal.match(/systemd\[1\]: Started thanos-sidecar\.service/g)?.length, 1, journal);
  assert.equal(journal.match(/systemd\[1\]: Stopping thanos-sidecar\.service/g)?.length, 1, journal);
  assert.match(journal, /level=debug/);
  assert.equal(await readyStatus(sandbox.vmReadyUrl), 200);
  await vmSeriesThroughQuerier();
});

test("fault: a tarball failing its checksum installs nothing and leaves the running sidecar alone", { timeout: 120_000 }, async () => {
  const before = await sandbox.sidecarUnitState();
  const files = await vmSnapshot();
  const sums = fs.readFileSync(path.join(sandbox.releases.find((r) => r.version === OTHER_VERSION)!.dir, "sha256sums.txt"), "utf8");
  const genuine = sums.slice(0, 64);
  try {
    for (const fault of ["corrupt-tarball", "wrong-sha256sums"] as const) {
      sandbox.mirror.setFault(OTHER_VERSION, fault);
      sandbox.mirror.clearRequests();
      const result = await sandbox.install({ ...current, thanosVersion: OTHER_VERSION });
      assert.equal(result.code, 1, report(result));
      const mismatch = /checksum mismatch for (\S+): expected sha256 ([0-9a-f]{64}), got ([0-9a-f]{64}); nothing was installed and the running sidecar was left alone/.exec(
        result.stderr,
      );
      assert.ok(mismatch, report(result));
      assert.equal(mismatch[1], sandbox.mirror.tarballUrl(OTHER_VERSION));
      // The corrupt tarball fails against the genuine sum; the genuine tarball against the falsified one.
      assert.equal(fault === "corrupt-tarball" ? mismatch[2] : mismatch[3], genuine, fault);
      assert.notEqual(mismatch[2], mismatch[3]);
      assert.equal(sandbox.mirror.downloads(OTHER_VERSION).length, 1);

      assert.equal(await vmSnapshot(), files, `${fault}: the VM changed`);
      assert.equal((await sandbox.vmShell(`ls -A ${INSTALL_ROOT}`)).trim(), `thanos-${VERSION}`);
      assert.equal((await sandbox.vmShell("ls -d /var/tmp/thanos-global-view.* 2>/dev/null || true")).trim(), "");
      assert.deepEqual(await sandbox.sidecarUnitState(), before);
      assert.equal(await readyStatus(sandbox.vmReadyUrl), 200);
    }
  } finally {
    sandbox.mirror.setFault(OTHER_VERSION, undefined);
  }
  await vmSeriesThroughQuerier();
});

test("fault: Prometheus with min != max block duration fails the preflight, naming both flags; the VM is untouched", { timeout: 120_000 }, async () => {
  const before = await sandbox.sidecarUnitState();
  const files = await vmSnapshot();
  await sandbox.reconfigureVmPrometheus({ maxBlockDuration: "1m" });
  try {
    const result = await sandbox.install(current);
    assert.equal(result.code, 1, report(result));
    assert.match(
      result.stderr,
      /^thanos-global-view: vm prom-vm: Prometheus runs with storage\.tsdb\.min-block-duration=30s but storage\.tsdb\.max-block-duration=1m; the Thanos sidecar needs both equal/m,
    );
    assert.equal(await vmSnapshot(), files);
    assert.deepEqual(await sandbox.sidecarUnitState(), before);
  } finally {
    await sandbox.restoreVmPrometheus();
  }
});

test("fault: Prometheus without external labels fails the preflight with a clear error; the VM is untouched", { timeout: 120_000 }, async () => {
  const before = await sandbox.sidecarUnitState();
  const files = await vmSnapshot();
  await sandbox.reconfigureVmPrometheus({ externalLabels: null });
  try {
    const result = await sandbox.install(current);
    assert.equal(result.code, 1, report(result));
    assert.match(
      result.stderr,
      /^thanos-global-view: vm prom-vm: Prometheus at http:\/\/127\.0\.0\.3:9090 has no external_labels; the sidecar refuses to run without labels that identify this Prometheus\. Fix: add them under global: in prometheus\.yml/m,
    );
    assert.equal(await vmSnapshot(), files);
    assert.deepEqual(await sandbox.sidecarUnitState(), before);
  } finally {
    await sandbox.restoreVmPrometheus();
  }
  await vmSeriesThroughQuerier();
});

test("fault: an unreachable VM fails with a clear error within the connect timeout", { timeout: 60_000 }, async () => {
  // A firewall that drops packets, on loopback: connections are accepted and then nothing is ever said.
  const held: net.Socket[] = [];
  const blackHole = net.createServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => blackHole.listen(0, "127.0.0.1", resolve));
  try {
    const port = (blackHole.address() as net.AddressInfo).port;
    // The component's own dial timeout, as the command provider gets it.
    const dialTimeoutSeconds = (await sandbox.vmCommand(current)).connection.perDialTimeout;
    const started = Date.now();
    const silent = await sandbox.install(current, { target: { host: "127.0.0.1", port } });
    const elapsed = Date.now() - started;
    assert.equal(silent.code, 255, report(silent));
    assert.match(silent.stderr, /Connection timed out during banner exchange/);
    assert.ok(elapsed >= (dialTimeoutSeconds - 1) * 1000 && elapsed < (dialTimeoutSeconds + 5) * 1000, `${elapsed} ms`);

    const closedPort = await freePort();
    const refusedStart = Date.now();
    const refused = await sandbox.install(current, { target: { host: "127.0.0.1", port: closedPort } });
    assert.equal(refused.code, 255, report(refused));
    assert.match(refused.stderr, new RegExp(`connect to host 127\\.0\\.0\\.1 port ${closedPort}: Connection refused`));
    assert.ok(Date.now() - refusedStart < 5_000);
  } finally {
    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => blackHole.close(() => resolve()));
  }
});

test("fault: with MinIO stopped the sidecar keeps serving queries, and the block cut meanwhile is uploaded once MinIO is back", { timeout: 240_000 }, async () => {
  const before = await sandbox.sidecarUnitState();
  await sandbox.minio.stop();
  const stoppedAt = new Date();
  // Listed after the stop: a block missing here is cut while MinIO is down.
  const known = new Set(await sandbox.vmTsdbBlocks());
  let backAt: Date;
  let block: string;
  try {
    block = await waitFor(
      "a new block in the VM's TSDB",
      async () => (await sandbox.vmTsdbBlocks()).find((ulid) => !known.has(ulid)),
      120_000,
      2_000,
    );
    // The shipper tried and failed (it names the oldest block not yet shipped; it retries every 30 s).
    const failure = await waitFor(
      "a failed upload in the sidecar's journal",
      async () => {
        const journal = await sandbox.vmJournal({ unit: UNIT_NAME, since: stoppedAt });
        return journal.split("\n").find((line) => /level=warn .*meta\.json.*connection refused/.test(line));
      },
      60_000,
      2_000,
    );
    assert.ok(failure.includes(sandbox.minio.endpoint), failure);
    const result = await vmSeriesThroughQuerier(10_000);
    assert.deepEqual(result.warnings, []);
    assert.deepEqual(await sandbox.sidecarUnitState(), before);
  } finally {
    await sandbox.minio.start();
    backAt = new Date();
  }
  const uploaded = await waitFor(
    "the block cut during the outage in the bucket",
    async () => (await sandbox.bucketBlocks()).find((b) => b.ulid === block),
    90_000,
    2_000,
  );
  assert.deepEqual(uploaded.thanos.labels, { cluster: VM_CLUSTER });
  // S3 times have second resolution.
  assert.ok(uploaded.uploadedAt.getTime() >= backAt.getTime() - 1_000, `uploaded at ${uploaded.uploadedAt.toISOString()}`);
  assert.deepEqual(await sandbox.sidecarUnitState(), before);
});

test("fault: a change whose sidecar never gets ready is rolled back, and the error shows the journal", { timeout: 120_000 }, async () => {
  const files = await vmSnapshot();
  const unit = await sandbox.vmShell(`cat ${UNIT_PATH}`);
  // Another service holds the new HTTP port: the new sidecar cannot bind it, and what answers there is no sidecar.
  const takenPort = await freePort(VM_ADDRESS);
  const squatter = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => squatter.listen(takenPort, VM_ADDRESS, resolve));
  try {
    const broken: VmChange = { ...current, vm: { ...current.vm, httpPort: takenPort, readyTimeoutSeconds: 10 } };
    const result = await sandbox.install(broken);
    assert.equal(result.code, 1, report(result));
    assert.match(result.stderr, /last journal lines of thanos-sidecar\.service:\n/);
    assert.ok(result.stderr.includes(`listen tcp ${VM_ADDRESS}:${takenPort}: bind: address already in use`), report(result));
    assert.ok(
      result.stderr.trimEnd().endsWith(
        `the sidecar did not answer http://${VM_ADDRESS}:${takenPort}/-/ready within 10s; the previous sidecar is back and ready`,
      ),
      report(result),
    );
  } finally {
    await new Promise((resolve) => squatter.close(resolve));
  }

  assert.equal(await sandbox.vmShell(`cat ${UNIT_PATH}`), unit);
  // Same files; only the unit's modification time may differ (the backup is put back by a rename).
  const withoutTimes = (snapshot: string) => snapshot.replace(/ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ [+-]\d{4} /g, " ");
  assert.equal(withoutTimes(await vmSnapshot()), withoutTimes(files));
  const state = await sandbox.sidecarUnitState();
  assert.equal(state.activeState, "active");
  assert.equal(await readyStatus(sandbox.vmReadyUrl), 200);
  await vmSeriesThroughQuerier();
});

test("destroy: the delete script removes the sidecar; Prometheus keeps running with every TSDB block", { timeout: 120_000 }, async () => {
  const blocks = await sandbox.vmTsdbBlocks();
  assert.ok(blocks.length >= 2, `blocks: ${blocks.join(", ")}`);
  const prometheusPid = (await sandbox.vmShell("systemctl show prometheus.service -p MainPID --value")).trim();

  const result = await sandbox.uninstall(current);
  assertSucceeded(result);
  assert.match(result.stdout, /removed thanos-sidecar\.service, \/etc\/thanos-global-view and \/opt\/thanos-global-view; Prometheus and its TSDB/);
  const gone = await sandbox.vmShell(`for f in ${UNIT_PATH} ${CONFIG_DIR} ${INSTALL_ROOT}; do if test -e "$f"; then echo "$f"; fi; done`);
  assert.equal(gone, "");
  assert.equal((await sandbox.runOnVm("shell", `systemctl is-active ${UNIT_NAME}`)).stdout.trim(), "inactive");
  const unitFiles = await sandbox.runOnVm("shell", `systemctl list-unit-files --no-legend ${UNIT_NAME}`);
  assert.deepEqual([unitFiles.code, unitFiles.stdout], [1, ""]);

  assert.equal((await sandbox.vmShell("systemctl is-active prometheus.service")).trim(), "active");
  assert.equal((await sandbox.vmShell("systemctl show prometheus.service -p MainPID --value")).trim(), prometheusPid);
  assert.equal(await readyStatus(`${sandbox.vm.prometheusUrl}/-/ready`), 200);
  const after = await sandbox.vmTsdbBlocks();
  assert.deepEqual(blocks.filter((ulid) => !after.includes(ulid)), []);
  assert.match(await sandbox.vmShell(`cat ${PROMETHEUS_DATA_DIR}/thanos.shipper.json`), /"uploaded"/);

  // Nothing listens at the sidecar's addresses any more, and a second delete has nothing to do.
  const { grpcPort, httpPort } = sandbox.vmConfig(current);
  assert.deepEqual(await listeningPorts([grpcPort, httpPort], VM_ADDRESS), []);
  const again = await sandbox.uninstall(current);
  assertSucceeded(again);
  assert.match(again.stdout, /nothing to remove/);
});

test("secrets: the object-store secret key is in no command string, journal line, sandbox log or test output", { timeout: 60_000 }, async () => {
  const secret = sandbox.secretKey;
  assert.ok(secret.startsWith(SECRET_KEY_MARKER));
  // Positive control: the secret did travel, in the stdin payload.
  assert.ok((await sandbox.vmPayload()).includes(Buffer.from(sandbox.expectedObjstoreYaml()).toString("base64")));

  const commands = sandbox.commandsSent();
  assert.ok(commands.filter((command) => command.includes("thanos-global-view-install")).length >= 8);
  assert.deepEqual(commands.filter((command) => command.includes(secret)), []);

  const journal = await sandbox.vmJournal();
  assert.match(journal, /thanos\[\d+\]: .*level=debug/);
  assert.equal(journal.includes(secret), false, "the VM's journal holds the secret key");
  // Nor any file left on the VM after the destroy (config, scratch directories, root's home).
  const vmDirs = ["etc", "opt", "root", "tmp", "var/tmp"].map((dir) => path.join(sandbox.vm.rootfs, dir));
  assert.deepEqual(vmDirs.flatMap((dir) => filesContaining(dir, secret)), []);

  assert.ok(fs.statSync(sandbox.transcriptFile).size > 0);
  assert.deepEqual(filesContaining(sandbox.runDir, secret), []);
  const output = Buffer.concat(captured);
  assert.ok(output.includes("first install on the VM"));
  assert.equal(output.includes(secret), false, "the test output holds the secret key");
});
