// The main job with the real engine: `pulumi preview`, `up`, a no-op `up`, a Thanos version change, a rollout that
// can never get Ready, `destroy` and a bad config of the sandbox stack (Pulumi.sandbox.yaml), with the CLI and plugins
// test/build/toolchain builds, against the sandbox's single-node Kubernetes cluster (the real kubernetes provider:
// apply, await readiness, report) and the sandbox VM on the cluster's network over SSH (the real command provider).
// In the cluster, prometheus-operator runs the HA pair of Prometheus pods with Thanos sidecars whose objstore Secret
// the stack makes. The tests run in order and build on each other. Needs root; a cold cache builds Kubernetes, the
// images, the toolchain, Thanos and the VM first. Afterwards the machine must look as it did before.
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { after, before, test } from "node:test";
import { PART_OF_LABEL } from "../../lib/project";
import { UNIT_NAME, UNIT_PATH, CONFIG_DIR, INSTALL_ROOT } from "../../lib/vm/paths";
import { kubernetesObjects } from "../harness/kubernetesObjects";
import { blackhole } from "../sandbox/blackhole";
import { hostSnapshot } from "../sandbox/clusterHost";
import { ClusterQuerier, type QuerierPod } from "../sandbox/clusterQuerier";
import { K8S_CLUSTER, REPLICA_LABEL, VM_CLUSTER, type BucketHistory, type GlobalViewSandbox } from "../sandbox/globalView";
import { PROMETHEUS_NAMESPACE, SIDECAR_GRPC_PORT, type PrometheusPod } from "../sandbox/inClusterPrometheus";
import type { KubeObject } from "../sandbox/kubeApiserver";
import { httpRequest } from "../sandbox/ports";
import { filesContaining, processesMentioning, sleep, waitFor } from "../sandbox/process";
import { expectedQuerierStores, historyPoints, historyThroughFrontend, PulumiStack, renderedManifests, startSandboxStack, toolchainEnv, waitForQuerierStores } from "../sandbox/stack";
import { bootConfig, SANDBOX_SECRET_KEYS } from "../sandbox/stackConfig";
import { repoPath } from "../repo";
import { instantQuery, type StoreStatus } from "../sandbox/thanos";
import { PROMETHEUS_DATA_DIR } from "../sandbox/vm";

const FIRST_VERSION = "0.42.4";
const NEXT_VERSION = "0.34.1";
/** An image no build packs: its pods can never start (the cluster pulls from nowhere). */
const MISSING_IMAGE = "quay.io/thanos/thanos:v0.0.0-never-packed";
const MINUTE = 60_000;
/** The key marking a secret value in Pulumi state (sdk/go/common/resource/sig). */
const SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d";
/** The VM sidecar's remote command, and the querier's Deployment, as URNs end. */
const SIDECAR_COMMAND = "::prom-vm-sidecar";
/** What dials the VM before the install, over the same connection: the external labels read and the code upload. */
const BEFORE_INSTALL = ["::prom-vm-external-labels", "::prom-vm-install-code"];
const QUERIER_DEPLOYMENT_URN = "kubernetes:apps/v1:Deployment::querier";

/** The engine events `pulumi up --json` prints, one JSON object a line (the fields the tests read). */
interface EngineEvent {
  /** Unix seconds. */
  timestamp: number;
  diagnosticEvent?: { urn?: string; message: string; severity: string; ephemeral?: boolean };
  resourcePreEvent?: { metadata: { urn: string; op: string } };
  resOpFailedEvent?: { metadata: { urn: string; op: string } };
  summaryEvent?: { resourceChanges: Record<string, number>; isPreview: boolean };
}

function engineEvents(stdout: string): EngineEvent[] {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as EngineEvent);
}

/** Another ed25519 public key in authorized_keys form, "ssh-ed25519 AAAA...": valid, but not the VM's. */
function otherHostKey(): string {
  const raw = crypto.generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  const sshString = (bytes: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, bytes.length]), bytes]);
  return `ssh-ed25519 ${Buffer.concat([sshString(Buffer.from("ssh-ed25519")), sshString(raw)]).toString("base64")}`;
}

/** The steps a `pulumi preview --json` plans, as "op name" (unchanged resources left out). */
async function plannedChanges(extra: string[] = []): Promise<string[]> {
  const plan = JSON.parse((await stack.preview(["--json", ...extra])).stdout) as { steps: { op: string; urn: string }[] };
  return plan.steps.filter((step) => step.op !== "same").map((step) => `${step.op} ${step.urn.split("::").pop()}`);
}

let env: NodeJS.ProcessEnv;
let sandbox: GlobalViewSandbox;
let stack: PulumiStack;
let history: BucketHistory;
let querier: ClusterQuerier;
let machineBefore: string;
const timings: string[] = [];
const startedAt = Date.now();

async function timed<T>(what: string, run: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await run();
  const line = `${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`;
  timings.push(line);
  console.log(line);
  return result;
}

before(
  async () => {
    env = await timed("toolchain (test/build/toolchain)", toolchainEnv);
    machineBefore = hostSnapshot();
    ({ sandbox, stack, history } = await timed("sandbox started (cluster, operator, VM, MinIO, mirror) and stack configured", () =>
      startSandboxStack({
        env,
        extraThanosVersions: [NEXT_VERSION],
        // Blocks within minutes, so destroy can be shown to leave them alone.
        vmBlockDuration: "1m",
        log: (line) => console.log(`sandbox: ${line}`),
      }),
    ));
    const { kubernetes } = sandbox.parsedConfig();
    querier = new ClusterQuerier(sandbox.cluster, kubernetes.namespace, kubernetes.querier.name);
    const boot = sandbox.cluster.bootTimes;
    console.log(`cluster boot: ${Object.entries(boot).map(([what, at]) => `${what} ${at.toFixed(1)} s`).join(", ")}`);
  },
  { timeout: 60 * MINUTE },
);

after(async () => {
  // The VM, MinIO, the mirror and the cluster all belong to the sandbox's registry; the cluster's cleanup undoes
  // what it changed on the machine. The stack's backend lives in the run directory.
  await sandbox?.stop();
  console.log(`timings:\n  ${timings.join("\n  ")}`);
  if (!sandbox) return;
  assert.deepEqual(processesMentioning(sandbox.runDir), [], "processes of the run are still running");
  const machineAfter = hostSnapshot();
  if (machineAfter !== machineBefore) fs.writeFileSync(path.join(sandbox.runDir, "machine-after.txt"), machineAfter);
  assert.equal(machineAfter, machineBefore, "the machine is not as it was before the cluster started");
});

/**
 * The sshd log lines in the VM from connections that began between two instants. sshd forks a process per
 * connection, so a line whose process logged nothing before `since` is a new connection; the close of one opened
 * earlier (the previous check's session, logged just after its client returned) is not. Journal times are in µs.
 */
async function newSshdConnections(since: Date, until: Date): Promise<string[]> {
  const out = await sandbox.vmShell("journalctl --no-pager --output json SYSLOG_IDENTIFIER=sshd");
  const entries = out
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as { __REALTIME_TIMESTAMP: string; _PID: string; MESSAGE: string })
    .map((entry) => ({ ms: Number(entry.__REALTIME_TIMESTAMP) / 1000, pid: entry._PID, message: entry.MESSAGE }));
  const earlier = new Set(entries.filter((entry) => entry.ms < since.getTime()).map((entry) => entry.pid));
  return entries
    .filter((entry) => entry.ms >= since.getTime() && entry.ms <= until.getTime() && !earlier.has(entry.pid))
    .map((entry) => `sshd[${entry.pid}]: ${entry.message}`);
}

/** Asserts sshd saw no connection in [since, until], and that it does log them (the journal read's own session). */
async function assertNoSshBetween(since: Date, until: Date): Promise<void> {
  assert.deepEqual(await newSshdConnections(since, until), [], "sshd logged a connection while pulumi ran");
  const own = await newSshdConnections(until, new Date());
  assert.ok(own.some((line) => line.includes("Accepted publickey")), `sshd does not log connections: ${own.join("\n")}`);
}

/** `up` through a querier until both clusters answer; the series by cluster, deduplicated and not. */
async function globalUp(httpUrl: string): Promise<{ clusters: string[]; k8sDeduplicated: number; k8sRaw: number }> {
  const { series } = await waitFor(
    "up from both clusters",
    async () => {
      const answer = await instantQuery(httpUrl, "up");
      return new Set(answer.series.map((s) => s.metric.cluster)).size === 2 ? answer : undefined;
    },
    MINUTE,
  );
  const raw = (await instantQuery(httpUrl, "up", { dedup: false })).series;
  // The Prometheus pods' self-scrapes: both replicas have them from their start. (The ServiceMonitors' targets come
  // to each replica when its config reloads, which may be a minute apart.)
  const k8s = (list: typeof series) => list.filter((s) => s.metric.cluster === K8S_CLUSTER && s.metric.job === "prometheus-operated").length;
  return { clusters: [...new Set(series.map((s) => s.metric.cluster))].sort(), k8sDeduplicated: k8s(series), k8sRaw: k8s(raw) };
}

/**
 * Every querier pod lists every sidecar with its labels (the in-cluster ones found through dnssrv+ and CoreDNS), and
 * the store gateway, which serves the bucket's history with the VM's labels.
 */
async function assertEveryQuerierSeesEveryStore(): Promise<StoreStatus[]> {
  const prometheusPods = await sandbox.inClusterPrometheus.waitReady();
  const { namespace, storeGateway } = sandbox.parsedConfig().kubernetes;
  const storeGateways = await sandbox.cluster.readyPodAddresses(namespace, storeGateway.name, "grpc");
  assert.equal(storeGateways.length, storeGateway.replicas, `Ready store gateway pods: ${storeGateways.join(", ")}`);
  const pods = (await querier.pods()).filter((pod) => !pod.terminating);
  assert.equal(pods.length, 2, JSON.stringify(pods));
  let stores: StoreStatus[] = [];
  for (const pod of pods) {
    // The querier re-resolves the headless Services' SRV records every 30 s: the pods may take that long to appear.
    stores = await waitForQuerierStores(querier.url(pod), await expectedQuerierStores(sandbox));
  }
  const labels = Object.fromEntries(stores.map((store) => [store.name, store.labelSets]));
  assert.deepEqual(labels[sandbox.vmGrpcAddress], [{ cluster: VM_CLUSTER }]);
  for (const address of storeGateways) assert.deepEqual(labels[address], [history.externalLabels], address);
  for (const pod of prometheusPods) {
    assert.deepEqual(labels[`${pod.ip}:${SIDECAR_GRPC_PORT}`], [
      { cluster: K8S_CLUSTER, prometheus: `${PROMETHEUS_NAMESPACE}/${sandbox.inClusterPrometheus.name}`, [REPLICA_LABEL]: pod.name },
    ]);
  }
  return stores;
}

async function sidecarReady(): Promise<boolean> {
  try {
    return (await httpRequest({ url: sandbox.vmReadyUrl, timeoutMs: 2_000 })).status === 200;
  } catch {
    return false;
  }
}

async function sha256OnVm(paths: string[]): Promise<string> {
  return sandbox.vmShell(`cd / && sha256sum ${paths.join(" ")}`);
}

/** The stack's objects in the cluster: everything carrying its part-of label, in any namespace, as kind/ns/name. */
async function stackObjectsInCluster(): Promise<string[]> {
  const [label, value] = Object.entries(PART_OF_LABEL)[0];
  const list = await sandbox.cluster.getJson<{ items: KubeObject[] }>([
    "namespaces,secrets,services,deployments,statefulsets,poddisruptionbudgets,configmaps,serviceaccounts,servicemonitors,prometheusrules",
    "--all-namespaces",
    "-l",
    `${label}=${value}`,
  ]);
  return list.items.map((object) => `${object.kind}/${object.metadata.namespace ?? ""}/${object.metadata.name}`).sort();
}

/** The querier Deployment's rollout is complete: every replica of the current template updated, Ready, available. */
async function assertRolledOut(image: string): Promise<QuerierPod[]> {
  const status = await querier.deployment();
  assert.equal(status.observedGeneration, status.generation, JSON.stringify(status));
  assert.deepEqual(
    [status.replicas, status.updatedReplicas, status.readyReplicas, status.availableReplicas],
    [2, 2, 2, 2],
    `the rollout is not complete when pulumi up returns: ${JSON.stringify(status)}`,
  );
  assert.equal(status.image, image);
  const current = (await querier.pods()).filter((pod) => !pod.terminating);
  assert.equal(current.length, 2, JSON.stringify(current));
  for (const pod of current) {
    assert.ok(pod.ready, `${pod.name} is not Ready`);
    assert.equal(pod.image, image);
  }
  return current;
}

/**
 * Asks every known querier pod for `up` every 250 ms until stopped. A round counts as answered when at least one pod
 * returns a non-empty result; the pod list is read again when none did, before the round counts as failed.
 */
function watchGlobalView(): { stop(): Promise<{ rounds: number; failures: string[] }> } {
  let running = true;
  let pods: QuerierPod[] = [];
  let rounds = 0;
  const failures: string[] = [];
  const ask = async (pod: QuerierPod) => {
    try {
      const { series } = await instantQuery(querier.url(pod), "up", { partialResponse: true });
      return series.length > 0 ? undefined : `${pod.name}: empty`;
    } catch (error) {
      return `${pod.name}: ${(error as Error).message}`;
    }
  };
  const round = async (): Promise<string[] | undefined> => {
    const errors = await Promise.all(pods.map(ask));
    return errors.some((error) => error === undefined) ? undefined : errors.map(String);
  };
  const loop = (async () => {
    pods = await querier.pods();
    while (running) {
      let errors = await round();
      if (errors) {
        pods = await querier.pods();
        errors = await round();
      }
      rounds += 1;
      if (errors) failures.push(`${new Date().toISOString()}: no querier pod answered: ${errors.join("; ") || "no pods"}`);
      await sleep(250);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { rounds, failures };
    },
  };
}

/** Deep containment: every field `expected` sets is in `actual` with the same value (the server adds defaults). */
function assertContains(actual: unknown, expected: unknown, at: string): void {
  if (Array.isArray(expected)) {
    // An empty list is left out of the stored object.
    if (expected.length === 0 && actual === undefined) return;
    assert.ok(Array.isArray(actual) && actual.length === expected.length, `${at}: ${JSON.stringify(actual)} is not ${JSON.stringify(expected)}`);
    expected.forEach((item, i) => assertContains((actual as unknown[])[i], item, `${at}[${i}]`));
  } else if (typeof expected === "object" && expected !== null) {
    if (Object.keys(expected).length === 0 && actual === undefined) return;
    assert.ok(typeof actual === "object" && actual !== null, `${at}: missing (expected ${JSON.stringify(expected)})`);
    for (const [key, value] of Object.entries(expected)) assertContains((actual as Record<string, unknown>)[key], value, `${at}.${key}`);
  } else {
    assert.equal(actual, expected, at);
  }
}

test("pulumi preview succeeds, opens no SSH connection and creates nothing in the cluster", { timeout: 5 * MINUTE }, async () => {
  const since = new Date();
  const result = await timed("pulumi preview", () => stack.preview());
  const until = new Date();
  assert.match(result.stdout, /\+\s+command:remote:Command\s+prom-vm-sidecar\s+create/);
  assert.match(result.stdout, /\+\s+kubernetes:apps\/v1:Deployment\s+querier\s+create/);
  assert.match(result.stdout, /Resources:\s+\+ \d+ to create/);
  await assertNoSshBetween(since, until);
  assert.deepEqual(await stackObjectsInCluster(), [], "a preview created objects in the cluster");
});

test("pulumi up returns once the querier pods are Ready; they find both Prometheus replicas (dnssrv+, CoreDNS) and the VM sidecar, and up spans both clusters, deduplicated", { timeout: 10 * MINUTE }, async () => {
  const result = await timed("first pulumi up", () => stack.up());
  assert.match(result.stdout, /\+\s+command:remote:Command\s+prom-vm-sidecar\s+created/);
  assert.match(result.stdout, /\+\s+kubernetes:apps\/v1:Deployment\s+querier\s+created/);
  // Read at once: pulumi up waited for the rollout, so there is nothing left to wait for.
  await assertRolledOut(`quay.io/thanos/thanos:v${FIRST_VERSION}`);

  const unit = await sandbox.sidecarUnitState();
  assert.equal(unit.activeState, "active");
  assert.ok(await sidecarReady(), `${sandbox.vmReadyUrl} is not ready`);

  const outputs = await stack.outputs();
  const serviceEndpoint = `dnssrv+_grpc._tcp.sidecar.${PROMETHEUS_NAMESPACE}.svc.cluster.local`;
  const { namespace, storeGateway } = sandbox.parsedConfig().kubernetes;
  const storeGatewayEndpoint = `dnssrv+_grpc._tcp.${storeGateway.name}.${namespace}.svc.cluster.local`;
  assert.deepEqual(outputs.vmSidecarGrpcAddresses, [sandbox.vmGrpcAddress]);
  assert.deepEqual(outputs.querierStores, [serviceEndpoint, sandbox.vmGrpcAddress, storeGatewayEndpoint]);

  // The querier is told the Service's name only; CoreDNS answers its SRV query with both Prometheus pods, once they
  // are Ready (they start only when this up has made their objstore Secret).
  await sandbox.inClusterPrometheus.waitReady();
  const [pod] = await querier.pods();
  const srv = await sandbox.cluster.kubectl(["-n", querier.namespace, "exec", pod.name, "--", "nslookup", "-type=SRV", `_grpc._tcp.sidecar.${PROMETHEUS_NAMESPACE}.svc.cluster.local`]);
  assert.equal(srv.stdout.match(/service = \d+ \d+ 10901 /g)?.length, 2, srv.stdout);
  await timed("both querier pods see every sidecar and the store gateway", assertEveryQuerierSeesEveryStore);
  const view = await globalUp(await querier.readyUrl());
  assert.deepEqual(view.clusters, [K8S_CLUSTER, VM_CLUSTER].sort());
  // Each replica scrapes both Prometheus pods: the same series twice, once per replica, merged into one.
  assert.ok(view.k8sDeduplicated > 0);
  assert.equal(view.k8sRaw, 2 * view.k8sDeduplicated, JSON.stringify(view));

  const reader = new PulumiStack({
    dir: path.join(sandbox.runDir, "reader"),
    env,
    stack: "reader",
    projectDir: repoPath("test", "fixtures", "reader"),
    backendDir: stack.backendDir,
  });
  await reader.init({ thanosStack: stack.qualifiedName });
  await timed("reader project up (StackReference)", () => reader.up());
  const read = await reader.outputs();
  assert.deepEqual(read.vmSidecarGrpcAddresses, outputs.vmSidecarGrpcAddresses);
  assert.deepEqual(read.querierStores, outputs.querierStores);
});

test("the query frontend pod answers a range query reaching back past what any Prometheus here holds: the bucket's history, through the store gateway pod", { timeout: 5 * MINUTE }, async () => {
  const answer = await historyThroughFrontend(sandbox, history);
  console.log(`history through ${answer.frontendUrl}: ${answer.points} points in ${answer.series} series of ${history.selector} from ${new Date(history.startMs).toISOString()} to ${new Date(history.endMs).toISOString()}, ${answer.splitQueries} split queries`);
  // A point every 30 minutes over the seeded day, in the one series the VM's history is: each from the bucket.
  assert.deepEqual([answer.points, answer.series], [48, 1]);
  // Three days and more, split by the 24h interval.
  assert.ok(answer.splitQueries >= 3, `split into ${answer.splitQueries}`);

  // The control: without the store gateway pod the querier has none of it (asked directly, past the frontend's cache).
  const { namespace, storeGateway } = sandbox.parsedConfig().kubernetes;
  const scale = (replicas: number) => sandbox.cluster.kubectl(["-n", namespace, "scale", "statefulset", storeGateway.name, `--replicas=${replicas}`]);
  const querierUrl = await querier.readyUrl();
  assert.equal((await historyPoints(querierUrl, history)).points, 48);
  await scale(0);
  try {
    await waitFor("the store gateway pod gone", async () => ((await sandbox.cluster.readyPodAddresses(namespace, storeGateway.name, "grpc")).length === 0 ? true : undefined), 2 * MINUTE, 1_000);
    const without = await waitFor("the querier to answer without the store gateway", async () => {
      const found = await historyPoints(querierUrl, history).catch(() => undefined);
      return found?.points === 0 ? found : undefined;
    }, 2 * MINUTE, 2_000);
    assert.equal(without.series, 0);
  } finally {
    await scale(storeGateway.replicas);
  }
  await sandbox.cluster.rolloutStatus(`statefulset/${storeGateway.name}`, namespace);
  await assertEveryQuerierSeesEveryStore();
  assert.equal((await historyPoints(querierUrl, history)).points, 48);
});

test("a second pulumi up changes nothing, runs no remote command and leaves the querier pods alone", { timeout: 5 * MINUTE }, async () => {
  const before = await sandbox.sidecarUnitState();
  const podsBefore = (await querier.pods()).map((pod) => pod.uid);
  const generation = (await querier.deployment()).generation;
  const downloads = sandbox.mirror.downloads().length;
  const since = new Date();
  const result = await timed("no-op pulumi up", () => stack.up(["--json"]));
  const until = new Date();
  // The last summary of the engine's events counts the changes.
  const summaries = engineEvents(result.stdout).flatMap((event) =>
    event.summaryEvent && !event.summaryEvent.isPreview ? [event.summaryEvent.resourceChanges] : [],
  );
  assert.equal(summaries.length, 1, result.stdout);
  assert.deepEqual(Object.keys(summaries[0]), ["same"], `changes: ${JSON.stringify(summaries[0])}`);
  const after = await sandbox.sidecarUnitState();
  assert.equal(after.mainPid, before.mainPid);
  assert.equal(after.invocationId, before.invocationId);
  assert.equal(sandbox.mirror.downloads().length, downloads);
  await assertNoSshBetween(since, until);
  assert.deepEqual((await querier.pods()).map((pod) => pod.uid), podsBefore);
  assert.equal((await querier.deployment()).generation, generation);
});

test("the querier pods run as their security context says: uid 65534, a read-only root filesystem, no capabilities", { timeout: 5 * MINUTE }, async () => {
  for (const pod of await querier.pods()) {
    const exec = (...command: string[]) => sandbox.cluster.kubectl(["-n", querier.namespace, "exec", pod.name, "--", ...command], { allowFailure: true });
    // The image's own user is 1001 (as upstream's); the pod's runAsUser overrides it.
    const status = (await exec("cat", "/proc/1/status")).stdout;
    assert.match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m, status);
    assert.match(status, /^Gid:\s+65534\s+65534\s+65534\s+65534$/m, status);
    for (const set of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]) assert.match(status, new RegExp(`^${set}:\\s+0{16}$`, "m"), status);
    assert.match(status, /^NoNewPrivs:\s+1$/m, status);
    assert.match(status, /^Seccomp:\s+2$/m, status);
    const write = await exec("touch", "/written-by-a-test");
    assert.notEqual(write.code, 0);
    assert.match(write.stderr, /Read-only file system/);
    assert.notEqual((await exec("touch", "/tmp/written-by-a-test")).code, 0, "/tmp is writable");
  }
});

test("the objects the stack made in the cluster are the ones the API-server validation tests check, and render mode renders them too", { timeout: 10 * MINUTE }, async () => {
  // What test/system/kube-manifests.test.ts applies to a bare API server, for this very config.
  const registered = await kubernetesObjects(sandbox.stackConfig(), SANDBOX_SECRET_KEYS, "sandbox");
  const key = (object: KubeObject) => `${object.kind}/${object.metadata.namespace ?? ""}/${object.metadata.name}`;
  assert.deepEqual(await stackObjectsInCluster(), registered.map(key).sort());
  for (const object of registered) {
    const live = await sandbox.cluster.getJson<KubeObject & { data?: Record<string, string> }>([
      ...(object.metadata.namespace ? ["-n", object.metadata.namespace] : []),
      object.kind.toLowerCase(),
      object.metadata.name,
    ]);
    const { stringData, ...rest } = object as KubeObject & { stringData?: Record<string, string> };
    assertContains(live, rest, key(object));
    // A Secret's stringData is stored as base64 data.
    for (const [name, value] of Object.entries(stringData ?? {})) {
      assert.equal(Buffer.from(live.data?.[name] ?? "", "base64").toString("utf8"), value, `${key(object)} data.${name}`);
    }
  }

  // The real provider's other mode: the same program, told to render, writes the same objects (without the VM, so
  // that this stack runs nothing over SSH).
  const renderDir = path.join(sandbox.runDir, "rendered");
  const render = new PulumiStack({ dir: path.join(sandbox.runDir, "render"), env, stack: "sandbox" });
  const { plain, secrets } = bootConfig(sandbox.bootValues);
  await render.init({ ...plain, "kubernetes.renderYamlToDirectory": renderDir }, secrets);
  await render.stackCommand(["config", "rm", "vms"], {}, "config-rm");
  await timed("pulumi up in render mode", () => render.up());
  const withoutVm = { ...sandbox.stackConfig(), vms: [] };
  const expected = await kubernetesObjects(withoutVm, SANDBOX_SECRET_KEYS, "sandbox");
  const rendered = renderedManifests(renderDir);
  assert.deepEqual(rendered.map((object) => key(object as unknown as KubeObject)).sort(), expected.map(key).sort());
  for (const object of expected) {
    const file = rendered.find((candidate) => key(candidate as unknown as KubeObject) === key(object))!;
    const { stringData, ...rest } = object as KubeObject & { stringData?: Record<string, string> };
    assertContains(file, rest, `${file.file}`);
    for (const [name, value] of Object.entries(stringData ?? {})) {
      const data = (file as unknown as { data?: Record<string, string>; stringData?: Record<string, string> });
      assert.equal(data.stringData?.[name] ?? Buffer.from(data.data?.[name] ?? "", "base64").toString("utf8"), value);
    }
  }
  await render.destroy();
  assert.deepEqual(renderedManifests(renderDir), []);
});

test(`a Thanos version change ${FIRST_VERSION} -> ${NEXT_VERSION} rolls the querier (pulumi up waits for it) and restarts the VM sidecar once, while the global view keeps answering`, { timeout: 10 * MINUTE }, async () => {
  await stack.setConfig({ thanosVersion: NEXT_VERSION });

  const since = new Date();
  const diff = await timed("pulumi preview --diff", () => stack.preview(["--diff"]));
  await assertNoSshBetween(since, new Date());
  // A reviewer sees which resources change, how, and the version in the querier's image and the VM's install.
  assert.match(diff.stdout, /~ command:remote:Command: \(update\)/);
  assert.match(diff.stdout, /~ kubernetes:apps\/v1:Deployment: \(update\)/);
  assert.match(diff.stdout, /- readonly THANOS_VERSION='\\''0\.42\.4'\\''\n\s+\+ readonly THANOS_VERSION='\\''0\.34\.1'\\''/);
  assert.match(diff.stdout, /- ExecStart=\/opt\/thanos-global-view\/thanos-0\.42\.4\/thanos \\\n\s+\+ ExecStart=\/opt\/thanos-global-view\/thanos-0\.34\.1\/thanos/);
  assert.match(diff.stdout, /image: "quay\.io\/thanos\/thanos:v0\.42\.4" => "quay\.io\/thanos\/thanos:v0\.34\.1"/);
  // 0.34 takes its endpoints as flags instead of the sd-config.
  assert.ok(diff.stdout.includes(`+ [7]: "--endpoint=${sandbox.vmGrpcAddress}"`), "the VM's --endpoint flag is not in the diff");
  assert.match(diff.stdout, /Resources:\s+~ 5 to update/);
  assert.deepEqual((await plannedChanges()).sort(), ["update compactor", "update prom-vm-sidecar", "update querier", "update query-frontend", "update store-gateway"], "only in-place updates");

  const before = await sandbox.sidecarUnitState();
  const oldPods = await querier.pods();
  const upSince = new Date();
  const watch = watchGlobalView();
  await timed("pulumi up to the other version", () => stack.up());
  const newPods = await assertRolledOut(`quay.io/thanos/thanos:v${NEXT_VERSION}`);
  assert.ok(newPods.every((pod) => !oldPods.some((old) => old.uid === pod.uid)), "an old pod is still part of the Deployment");
  // Old pods stop within their grace period once the new ones are Ready.
  await waitFor("the old querier pods to be gone", async () => {
    const left = (await querier.pods()).filter((pod) => oldPods.some((old) => old.uid === pod.uid));
    return left.length === 0 ? true : undefined;
  }, MINUTE, 1_000);
  const { rounds, failures } = await watch.stop();
  console.log(`global view asked ${rounds} times during the rollout, unanswered ${failures.length} times`);
  assert.deepEqual(failures, [], "the global view did not answer during the rollout");
  assert.ok(rounds >= 5, `only ${rounds} rounds`);

  const after = await sandbox.sidecarUnitState();
  assert.equal(after.activeState, "active");
  assert.notEqual(after.invocationId, before.invocationId, "the sidecar was not restarted");
  const starts = (await sandbox.vmJournal({ unit: UNIT_NAME, since: upSince })).split("\n").filter((line) => /Started /.test(line));
  assert.equal(starts.length, 1, `expected one restart, journal shows:\n${starts.join("\n")}`);
  const execStart = await sandbox.vmShell(`systemctl show ${UNIT_NAME} -p ExecStart`);
  assert.match(execStart, new RegExp(`thanos-${NEXT_VERSION.replaceAll(".", "\\.")}/thanos`));
  assert.ok(await sidecarReady());

  await assertEveryQuerierSeesEveryStore();
  assert.deepEqual((await globalUp(await querier.readyUrl())).clusters, [K8S_CLUSTER, VM_CLUSTER].sort());
});

test("a rollout whose pods can never get Ready fails pulumi up after readyTimeoutSeconds, naming the Deployment and why, and the running querier keeps answering", { timeout: 10 * MINUTE }, async () => {
  const { readyTimeoutSeconds } = sandbox.parsedConfig().kubernetes.querier;
  const running = await querier.pods();
  await stack.setConfig({ "kubernetes.querier.image": MISSING_IMAGE });
  assert.deepEqual(await plannedChanges(), ["update querier"]);

  const watch = watchGlobalView();
  const result = await timed("pulumi up with pods that never get Ready", () => stack.up(["--json"], { allowFailure: true }));
  const { rounds, failures } = await watch.stop();
  assert.notEqual(result.code, 0);
  const events = engineEvents(result.stdout);
  const ours = (event: EngineEvent) => event.diagnosticEvent?.urn?.endsWith(QUERIER_DEPLOYMENT_URN) ?? false;
  const started = events.find((event) => event.resourcePreEvent?.metadata.urn.endsWith(QUERIER_DEPLOYMENT_URN));
  const error = events.find((event) => ours(event) && event.diagnosticEvent?.severity === "error");
  assert.ok(started && error, result.stdout.slice(-3000));
  const message = error.diagnosticEvent!.message;
  console.log(`pulumi up failed after ${error.timestamp - started.timestamp} s with:\n${message}`);
  fs.writeFileSync(path.join(sandbox.runDir, "never-ready-failure.txt"), message);
  assert.match(message, new RegExp(`"${querier.namespace}/${querier.name}" failed to fully initialize or become live`));
  assert.match(message, /timed out waiting to be Ready/);
  assert.match(message, new RegExp(`\\[(ErrImagePull|ImagePullBackOff)\\].*${MISSING_IMAGE.replaceAll(".", "\\.")}`));
  const seconds = error.timestamp - started.timestamp;
  assert.ok(seconds >= readyTimeoutSeconds && seconds <= readyTimeoutSeconds + 15, `failed after ${seconds} s, not after ${readyTimeoutSeconds} s`);

  // The old pods answered throughout and still run; the new one waits for an image that will never come.
  console.log(`global view asked ${rounds} times during the failed rollout, unanswered ${failures.length} times`);
  assert.deepEqual(failures, []);
  const pods = await querier.pods();
  for (const pod of running) assert.ok(pods.some((now) => now.uid === pod.uid && now.ready), `${pod.name} no longer serves`);
  assert.ok(pods.some((pod) => pod.image === MISSING_IMAGE && !pod.ready && /ErrImagePull|ImagePullBackOff/.test(pod.waitingReason ?? "")), JSON.stringify(pods));

  // Putting the image back rolls back to the running pods.
  await stack.stackCommand(["config", "rm", "--path", "kubernetes.querier.image"], {}, "config-rm");
  await timed("pulumi up back to the image that runs", () => stack.up());
  await assertRolledOut(`quay.io/thanos/thanos:v${NEXT_VERSION}`);
  assert.deepEqual((await querier.pods()).filter((pod) => !pod.terminating).map((pod) => pod.uid).sort(), running.map((pod) => pod.uid).sort());
  assert.deepEqual(await plannedChanges(), []);
});

/**
 * With the config put back after a failed dial, what is planned are reruns of the reads and uploads that failed
 * (their failed update is kept in the state), never the install; one `up` runs them, and then nothing is left.
 */
async function assertRecovers(): Promise<void> {
  const before = await sandbox.sidecarUnitState();
  const planned = await plannedChanges();
  const reruns = BEFORE_INSTALL.map((suffix) => `update ${suffix.slice(2)}`);
  assert.ok(planned.every((step) => reruns.includes(step)), `planned: ${planned.join(", ")}`);
  if (planned.length > 0) await timed("pulumi up with the VM reachable again", () => stack.up());
  assert.deepEqual(await plannedChanges(), []);
  assert.equal((await sandbox.sidecarUnitState()).invocationId, before.invocationId, "the sidecar was restarted");
}

/** The plain secrets of the run: the objstore secret key and the longest line of the SSH private key's body. */
function plainSecrets(): string[] {
  const keyLine = sandbox.vm.privateKey.split("\n").reduce((a, b) => (b.length > a.length ? b : a));
  assert.ok(keyLine.length > 40);
  return [sandbox.minio.secretKey, keyLine];
}

test("a failing install fails pulumi up with the command string and its output, no secret, and changes nothing", { timeout: 10 * MINUTE }, async () => {
  const before = await sandbox.sidecarUnitState();
  const missing = "/nonexistent/metrics2";
  await stack.setConfig({ "vms[0].tsdbPath": missing });
  assert.deepEqual(await plannedChanges(), ["update prom-vm-sidecar"]);

  const result = await timed("pulumi up with a failing preflight", () => stack.up([], { allowFailure: true }));
  const output = `${result.stdout}\n${result.stderr}`;
  assert.notEqual(result.code, 0, output);
  // The provider's error is x/crypto's exit status, the whole command string as Go quotes it, then the command's
  // stdout and stderr together (whatever `logging` says).
  const install = (await sandbox.vmCommand({ vm: { tsdbPath: missing }, thanosVersion: NEXT_VERSION })).create;
  assert.ok(output.includes(`Process exited with status 1: running ${JSON.stringify(install)}:\n`), `no command string in:\n${output.slice(0, 3000)}`);
  assert.match(output, new RegExp(`tsdbPath ${missing} does not exist on the VM`));
  for (const secret of plainSecrets()) assert.ok(!output.includes(secret), "a secret in the failed up's output");

  const after = await sandbox.sidecarUnitState();
  assert.equal(after.invocationId, before.invocationId, "the sidecar was restarted");
  // A failed update keeps the old state: with the path put back there is nothing to do.
  await stack.setConfig({ "vms[0].tsdbPath": PROMETHEUS_DATA_DIR });
  assert.deepEqual(await plannedChanges(), []);
});

test("a wrong pinned host key fails pulumi up with a host key mismatch, and nothing runs on the VM", { timeout: 10 * MINUTE }, async () => {
  await stack.setConfig({ "vms[0].hostKey": otherHostKey() });
  // The connection is a secret input: its change is an update, shown as [secret], for every remote resource.
  assert.deepEqual((await plannedChanges()).sort(), ["update prom-vm-external-labels", "update prom-vm-install-code", "update prom-vm-sidecar"]);
  const before = await sandbox.sidecarUnitState();
  const since = new Date();
  const result = await timed("pulumi up with a wrong host key", () => stack.up(["--json"], { allowFailure: true }));
  const until = new Date();
  assert.notEqual(result.code, 0, result.stdout.slice(-3000));
  const events = engineEvents(result.stdout);
  // The provider retries a mismatch like any failed dial and counts the attempts after the first.
  const { dialErrorLimit } = (await sandbox.vmCommand()).connection;
  const errors = events.flatMap((event) => (event.diagnosticEvent?.severity === "error" ? [event.diagnosticEvent.message] : []));
  assert.ok(errors.some((message) => message.includes(`after ${dialErrorLimit} failed attempts: ssh: handshake failed: ssh: host key mismatch`)), errors.join("\n"));
  const started = BEFORE_INSTALL.filter((suffix) => events.some((event) => event.resourcePreEvent?.metadata.urn.endsWith(suffix)));
  assert.ok(started.length > 0, "nothing dialled the VM");
  assert.ok(!events.some((event) => event.resourcePreEvent?.metadata.urn.endsWith(SIDECAR_COMMAND)), "the install ran after a failed dial");

  // Every dial reached sshd and ended before authentication: no login, no command.
  const connections = await newSshdConnections(since, until);
  assert.ok(!connections.some((line) => /Accepted|session opened/.test(line)), connections.join("\n"));
  const dials = new Set(connections.map((line) => /^sshd\[(\d+)\]/.exec(line)?.[1]));
  // Each resource that dials does so dialErrorLimit + 1 times, unless the engine cancels it once the other failed.
  assert.ok(dials.size >= dialErrorLimit + 1 && dials.size <= started.length * (dialErrorLimit + 1), `${started.join(", ")} started; sshd saw:\n${connections.join("\n")}`);
  const after = await sandbox.sidecarUnitState();
  assert.equal(after.invocationId, before.invocationId);

  await stack.setConfig({ "vms[0].hostKey": sandbox.vm.hostKey });
  await assertRecovers();
});

test("an unreachable VM fails pulumi up after the component's dial limits", { timeout: 10 * MINUTE }, async () => {
  // Packets to this port vanish: each dial waits out perDialTimeout, as towards a VM that is down.
  const hole = blackhole(sandbox.vm.address, 2222);
  sandbox.registry.defer("blackhole", () => Promise.resolve(hole.remove()));
  let result: Awaited<ReturnType<typeof stack.up>>;
  try {
    await stack.setConfig({ "vms[0].port": String(hole.port) });
    result = await timed("pulumi up with the VM unreachable", () => stack.up(["--json"], { allowFailure: true }));
    assert.ok(hole.dropped() > 0, "nothing was dropped");
  } finally {
    hole.remove();
  }
  assert.notEqual(result.code, 0);
  // The limits the component sets on the connection, as the command provider gets them.
  const { dialErrorLimit, perDialTimeout } = (await sandbox.vmCommand()).connection;
  const events = engineEvents(result.stdout);
  // The label read and the upload dial first, with the same connection; the install never starts.
  assert.ok(!events.some((event) => event.resourcePreEvent?.metadata.urn.endsWith(SIDECAR_COMMAND)), "the install ran after a failed dial");
  const error = events.find((event) => BEFORE_INSTALL.some((suffix) => event.diagnosticEvent?.urn?.endsWith(suffix)) && event.diagnosticEvent?.severity === "error");
  const failedUrn = error?.diagnosticEvent?.urn;
  const ours = (event: EngineEvent) => failedUrn !== undefined && event.diagnosticEvent?.urn === failedUrn;
  const started = events.find((event) => failedUrn !== undefined && event.resourcePreEvent?.metadata.urn === failedUrn);
  assert.ok(started && error, result.stdout.slice(-3000));
  assert.match(error.diagnosticEvent!.message, new RegExp(`after ${dialErrorLimit} failed attempts: dial tcp ${sandbox.vm.address.replaceAll(".", "\\.")}:${hole.port}: i/o timeout`));
  // dialErrorLimit + 1 dials of perDialTimeout each, with the SDK's short backoff (0.1 s x 1.5) between them.
  const dials = dialErrorLimit + 1;
  const retries = events.filter((event) => ours(event) && /^Dial \d+\/\d+ failed: retrying/.test(event.diagnosticEvent!.message));
  assert.equal(retries.length, dialErrorLimit, retries.map((event) => event.diagnosticEvent!.message).join("\n"));
  const seconds = error.timestamp - started.timestamp;
  assert.ok(seconds >= dials * perDialTimeout - 1 && seconds <= dials * perDialTimeout + 10, `failed after ${seconds} s`);

  await stack.setConfig({ "vms[0].port": "22" });
  await assertRecovers();
});

test("a replacement asked for deletes the old sidecar before it creates the new one", { timeout: 5 * MINUTE }, async () => {
  const urn = (await stack.resourceUrns()).find((candidate) => candidate.endsWith(SIDECAR_COMMAND));
  assert.ok(urn);
  const since = new Date();
  const steps = await plannedChanges(["--replace", urn, "--show-replacement-steps"]);
  await assertNoSshBetween(since, new Date());
  assert.deepEqual(steps, ["delete-replaced prom-vm-sidecar", "replace prom-vm-sidecar", "create-replacement prom-vm-sidecar"]);
});

test("the state and every log hold the objstore secret key and the SSH private key only encrypted", { timeout: 5 * MINUTE }, async () => {
  // The key's longest line: present wherever the key is, however newlines were escaped.
  const [secretKey, keyLine] = plainSecrets();

  const exported = await stack.exportState();
  assert.ok(!exported.includes(secretKey), "pulumi stack export shows the objstore secret key");
  assert.ok(!exported.includes(keyLine), "pulumi stack export shows the SSH private key");
  // Pulumi marks a secret value in state with this signature key, its ciphertext beside it.
  const isEncrypted = (value: unknown) => JSON.stringify(value).includes(`"${SECRET_SIGNATURE}":`) && JSON.stringify(value).includes('"ciphertext":');
  type StateResource = { urn: string; type: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> };
  const resources = (JSON.parse(exported) as { deployment: { resources: StateResource[] } }).deployment.resources;
  const sidecar = resources.find((resource) => resource.urn.endsWith(SIDECAR_COMMAND));
  assert.ok(sidecar?.inputs && sidecar.outputs, "no remote command in the state");
  assert.ok(isEncrypted(sidecar.inputs.connection), "the SSH connection (private key) is not encrypted in state");
  assert.ok(isEncrypted(sidecar.inputs.stdin), "the stdin payload (objstore secret key) is not encrypted in state");
  // The outputs repeat the inputs; stdout and stderr are secret through additionalSecretOutputs alone.
  for (const output of ["connection", "stdin", "stdout", "stderr"]) {
    assert.ok(output in sidecar.outputs, `no ${output} output in state`);
    assert.ok(isEncrypted(sidecar.outputs[output]), `the ${output} output is not encrypted in state`);
  }
  // The objstore Secret the real provider created: its data (the provider turns stringData into base64 data, which a
  // search for the plain key would miss) only as ciphertext, in the inputs, the outputs and the inputs kept there.
  const secrets = resources.filter((resource) => resource.type === "kubernetes:core/v1:Secret");
  // The sidecars' objstore Secret in monitoring, and the store gateway's and compactor's beside them.
  assert.equal(secrets.length, 2, secrets.map((secret) => secret.urn).join("\n"));
  for (const secret of secrets) {
    assert.ok(secret.inputs && secret.outputs, `${secret.urn}: no inputs or outputs in the state`);
    const kept = secret.outputs.__inputs as Record<string, unknown> | undefined;
    for (const [where, data] of [["inputs", secret.inputs.data], ["outputs", secret.outputs.data], ["outputs.__inputs", kept?.data]] as const) {
      assert.ok(data !== undefined && isEncrypted(data), `${secret.urn}: the data in ${where} is not encrypted in state`);
    }
  }

  // The run directory holds the backend (every checkpoint and backup), the runtime config, each pulumi command's
  // output and the logs of every sandbox process (the cluster's daemons and pods too). The cluster's own stores are
  // left out: etcd and containerd hold the Secret as Kubernetes holds any Secret (the kubelet's root, which holds
  // the mounted Secrets, is outside the run directory).
  const { paths } = sandbox.cluster;
  const clusterStores = [paths.etcd, path.dirname(paths.containerdConfig)];
  for (const secretValue of [secretKey, keyLine]) {
    assert.deepEqual(filesContaining(sandbox.runDir, secretValue, clusterStores), [], "plain secret in these files");
  }
  // The CLI's own logs (PULUMI_HOME/logs, shared with other runs: those written since this file started), gzipped
  // per command; a stack operation's log is encrypted with the stack's key.
  const logDir = path.join(env.PULUMI_HOME!, "logs");
  const ours = fs.readdirSync(logDir).map((name) => path.join(logDir, name)).filter((file) => fs.statSync(file).mtimeMs >= startedAt);
  assert.ok(ours.length > 0, `no pulumi logs in ${logDir}`);
  for (const file of ours) {
    const raw = fs.readFileSync(file);
    const text = raw[0] === 0x1f && raw[1] === 0x8b ? zlib.gunzipSync(raw) : raw;
    assert.ok(!text.includes(secretKey) && !text.includes(keyLine), `plain secret in ${file}`);
  }
  const journal = await sandbox.vmJournal();
  assert.ok(!journal.includes(secretKey) && !journal.includes(keyLine), "the VM's journal shows a secret");
});

test("pulumi destroy removes every object of the stack from the cluster and the VM sidecar, and leaves both Prometheus sides and their data alone", { timeout: 10 * MINUTE }, async () => {
  const blocks = await waitFor("a block in the VM's TSDB", async () => {
    const found = await sandbox.vmTsdbBlocks();
    return found.length > 0 ? found : undefined;
  }, 4 * MINUTE, 5_000);
  const prometheusFiles = ["/etc/prometheus/prometheus.yml", "/etc/default/prometheus", ...blocks.map((b) => `/var/lib/prometheus/metrics2/${b}/meta.json`)];
  const hashesBefore = await sha256OnVm(prometheusFiles);
  const prometheusPid = await sandbox.vmShell("systemctl show prometheus.service -p MainPID");

  const inCluster = sandbox.inClusterPrometheus;
  const podsBefore = await inCluster.waitReady();
  const claims = async () =>
    (await sandbox.cluster.getJson<{ items: { metadata: { name: string; uid: string }; status: { phase: string } }[] }>(["-n", inCluster.namespace, "pvc"])).items
      .map((claim) => `${claim.metadata.name} ${claim.metadata.uid} ${claim.status.phase}`).sort();
  const claimsBefore = await claims();
  assert.equal(claimsBefore.length, 2, claimsBefore.join("\n"));
  // A sample both replicas have: found again after destroy, it shows the TSDB was kept.
  const sampleTime = String(Math.floor(Date.now() / 1000) - 30);
  const sample = async (pod: PrometheusPod) =>
    JSON.stringify((await instantQuery(inCluster.url(pod), 'up{job="prometheus-operated"}', { time: sampleTime })).series.map((s) => s.metric.instance).sort());
  const samplesBefore = await Promise.all(podsBefore.map(sample));
  for (const found of samplesBefore) assert.notEqual(found, "[]");

  await timed("pulumi destroy", () => stack.destroy());

  assert.deepEqual(await stack.resourceUrns(), []);
  assert.deepEqual(await stackObjectsInCluster(), [], "objects of the stack are left in the cluster");
  const namespace = await sandbox.cluster.kubectl(["get", "namespace", querier.namespace], { allowFailure: true });
  assert.match(namespace.stderr, /NotFound/, "the querier's namespace is still there");

  const gone = await sandbox.vmShell(`systemctl show ${UNIT_NAME} -p LoadState; ls -d ${UNIT_PATH} ${CONFIG_DIR} ${INSTALL_ROOT} 2>&1 || true`);
  assert.match(gone, /LoadState=not-found/);
  assert.equal((gone.match(/No such file or directory/g) ?? []).length, 3, gone);
  assert.ok(!(await sidecarReady()));
  assert.equal(await sandbox.vmShell("systemctl show prometheus.service -p MainPID"), prometheusPid);
  assert.equal(await sha256OnVm(prometheusFiles), hashesBefore);
  assert.equal(await sandbox.vmShell("systemctl is-active prometheus.service"), "active\n");

  // The in-cluster Prometheus: the same pods, never restarted, still Ready, on the same claims, with their data.
  const podsAfter = await inCluster.pods();
  assert.deepEqual(podsAfter.map((pod) => [pod.name, pod.uid, pod.ready, pod.restarts]), podsBefore.map((pod) => [pod.name, pod.uid, true, pod.restarts]));
  assert.deepEqual(await claims(), claimsBefore);
  assert.deepEqual(await Promise.all(podsAfter.map(sample)), samplesBefore);
});

test("a bad config fails pulumi preview and up with the key paths, and nothing is created", { timeout: 5 * MINUTE }, async () => {
  await stack.setConfig({ "vms[0].grpcPort": "70000", "objstore.endpoint": `http://${sandbox.minio.endpoint}` });
  const since = new Date();
  for (const run of [() => stack.preview([], { allowFailure: true }), () => stack.up([], { allowFailure: true })]) {
    const result = await run();
    const output = `${result.stdout}\n${result.stderr}`;
    assert.notEqual(result.code, 0);
    assert.match(output, /thanos-global-view:vms\[0\]\.grpcPort: must be a port/);
    assert.match(output, /thanos-global-view:objstore\.endpoint: must be host:port with no scheme/);
  }
  const until = new Date();
  assert.deepEqual(await stack.resourceUrns(), []);
  assert.deepEqual(await stackObjectsInCluster(), []);
  assert.match(await sandbox.vmShell(`systemctl show ${UNIT_NAME} -p LoadState`), /LoadState=not-found/);
  await assertNoSshBetween(since, until);
});
