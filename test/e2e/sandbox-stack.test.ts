// The main job with the real engine: `pulumi preview`, `up`, a no-op `up`, a Thanos version change, `destroy` and a
// bad config of the sandbox stack (Pulumi.sandbox.yaml), with the CLI and plugins test/build/toolchain builds, against
// the sandbox VM over SSH, with the querier started from the manifests the kubernetes provider rendered. The tests
// run in order and build on each other. Needs root; a cold cache builds the toolchain, Thanos and the VM first.
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { after, before, test } from "node:test";
import { UNIT_NAME, UNIT_PATH, CONFIG_DIR, INSTALL_ROOT } from "../../lib/vm/paths";
import { blackhole } from "../sandbox/blackhole";
import { K8S_CLUSTER, VM_CLUSTER, type GlobalViewSandbox } from "../sandbox/globalView";
import { startKubeApiserver, type KubeApiserver, type KubeObject } from "../sandbox/kubeApiserver";
import { httpRequest } from "../sandbox/ports";
import { filesContaining, processesMentioning, waitFor } from "../sandbox/process";
import {
  PulumiStack,
  renderedManifests,
  startRenderedQuerier,
  startSandboxStack,
  toolchainEnv,
  waitForQuerierStores,
  type RenderedQuerier,
} from "../sandbox/stack";
import { repoPath } from "../repo";
import { instantQuery, querierArgEndpoints } from "../sandbox/thanos";
import { PROMETHEUS_DATA_DIR } from "../sandbox/vm";

const FIRST_VERSION = "0.42.4";
const NEXT_VERSION = "0.34.1";
const MINUTE = 60_000;
/** The key marking a secret value in Pulumi state (sdk/go/common/resource/sig). */
const SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d";
/** The VM sidecar's remote command, as URNs end. */
const SIDECAR_COMMAND = "::prom-vm-sidecar";
/** The upload of the install's code, which runs first over the same connection. */
const INSTALL_CODE_UPLOAD = "::prom-vm-install-code";

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
let renderDir: string;
let querier: RenderedQuerier | undefined;
let apiserver: KubeApiserver;
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
    ({ sandbox, stack, renderDir } = await timed("sandbox started and stack configured", () =>
      startSandboxStack({
        env,
        extraThanosVersions: [NEXT_VERSION],
        // Blocks within minutes, so destroy can be shown to leave them alone.
        vmBlockDuration: "1m",
        log: (line) => console.log(`sandbox: ${line}`),
      }),
    ));
  },
  { timeout: 40 * MINUTE },
);

after(async () => {
  // The VM, MinIO, Prometheus, the sidecars and the querier all belong to the sandbox's registry; the stack's backend
  // and rendered manifests live in its run directory, so nothing else needs undoing.
  await sandbox?.stop();
  if (sandbox) assert.deepEqual(processesMentioning(sandbox.runDir), [], "processes of the run are still running");
  console.log(`timings:\n  ${timings.join("\n  ")}`);
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

/** `up` through the querier until both clusters answer; the clusters seen. */
async function globalUp(httpUrl: string): Promise<string[]> {
  return waitFor(
    "up from both clusters",
    async () => {
      const { series } = await instantQuery(httpUrl, "up");
      const clusters = [...new Set(series.map((s) => s.metric.cluster))].sort();
      return clusters.length === 2 ? clusters : undefined;
    },
    MINUTE,
  );
}

function allSidecarAddresses(): string[] {
  return [sandbox.vmGrpcAddress, ...sandbox.k8sSidecars.map((sidecar) => sidecar.grpcAddress)];
}

async function restartQuerier(): Promise<RenderedQuerier> {
  await querier?.stop();
  querier = await startRenderedQuerier({
    renderDir,
    discovered: sandbox.k8sSidecars.map((sidecar) => sidecar.grpcAddress),
    runDir: sandbox.runDir,
    registry: sandbox.registry,
  });
  return querier;
}

async function sidecarReady(): Promise<boolean> {
  try {
    return (await httpRequest({ url: sandbox.vmReadyUrl, timeoutMs: 2_000 })).status === 200;
  } catch {
    return false;
  }
}

/** The rendered manifests as the API server takes them (without the file each came from). */
function renderedObjects(): KubeObject[] {
  return renderedManifests(renderDir).map((rendered) => {
    const object: KubeObject & { file?: string } = { ...rendered };
    delete object.file;
    return object;
  });
}

interface QuerierDeployment extends KubeObject {
  spec: { template: { spec: { containers: { name: string; args: string[] }[] } } };
}

function querierDeployment(objects: readonly KubeObject[]): QuerierDeployment {
  const deployment = objects.find((object) => object.kind === "Deployment");
  assert.ok(deployment, `no Deployment among ${objects.map((object) => object.kind).join(", ")}`);
  return deployment as QuerierDeployment;
}

/** Applies every rendered manifest to the real API server; the querier's args must come back as rendered. */
async function assertApiserverAccepts(objects: readonly KubeObject[]): Promise<void> {
  const stored = await apiserver.applyAll(objects);
  const renderedArgs = querierDeployment(objects).spec.template.spec.containers[0].args;
  assert.deepEqual(querierDeployment(stored).spec.template.spec.containers[0].args, renderedArgs);
}

async function sha256OnVm(paths: string[]): Promise<string> {
  return sandbox.vmShell(`cd / && sha256sum ${paths.join(" ")}`);
}

test("pulumi preview succeeds and opens no SSH connection", { timeout: 5 * MINUTE }, async () => {
  const since = new Date();
  const result = await timed("pulumi preview", () => stack.preview());
  const until = new Date();
  assert.match(result.stdout, /\+\s+command:remote:Command\s+prom-vm-sidecar\s+create/);
  assert.match(result.stdout, /\+\s+kubernetes:apps\/v1:Deployment\s+querier\s+create/);
  assert.match(result.stdout, /Resources:\s+\+ \d+ to create/);
  await assertNoSshBetween(since, until);
  assert.deepEqual(renderedManifests(renderDir), [], "a preview must not render manifests");
});

test("pulumi up converges: VM sidecar ready, the rendered querier sees every sidecar, outputs reach another stack", { timeout: 10 * MINUTE }, async () => {
  const result = await timed("first pulumi up", () => stack.up());
  assert.match(result.stdout, /\+\s+command:remote:Command\s+prom-vm-sidecar\s+created/);

  const unit = await sandbox.sidecarUnitState();
  assert.equal(unit.activeState, "active");
  assert.ok(await sidecarReady(), `${sandbox.vmReadyUrl} is not ready`);

  const outputs = await stack.outputs();
  assert.deepEqual(outputs.vmSidecarGrpcAddresses, [sandbox.vmGrpcAddress]);
  assert.deepEqual(outputs.querierStores, ["dnssrv+_grpc._tcp.sidecar.thanos.svc.cluster.local", sandbox.vmGrpcAddress]);

  const started = await timed("querier from the rendered Deployment ready", restartQuerier);
  assert.equal(started.version, FIRST_VERSION);
  assert.deepEqual(querierArgEndpoints(started.args).sort(), allSidecarAddresses().sort());
  await timed("querier sees every sidecar", () => waitForQuerierStores(started.httpUrl, allSidecarAddresses()));
  assert.deepEqual(await globalUp(started.httpUrl), [K8S_CLUSTER, VM_CLUSTER].sort());

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

test("a second pulumi up changes nothing and runs no remote command", { timeout: 5 * MINUTE }, async () => {
  const before = await sandbox.sidecarUnitState();
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
});

test("the rendered manifests pass a real kube-apiserver's validation (strict fields, server-side apply)", { timeout: 10 * MINUTE }, async () => {
  apiserver = await timed("kube-apiserver on etcd ready", () => startKubeApiserver({ runDir: sandbox.runDir, registry: sandbox.registry }));
  assert.match(await apiserver.version(), /^v1\.\d+\.\d+$/);

  const objects = renderedObjects();
  assert.deepEqual(
    objects.map((object) => `${object.kind}/${object.metadata.name}`).sort(),
    ["Deployment/thanos-querier", "Namespace/thanos", "Service/sidecar", "Service/thanos-querier"],
  );
  await timed("rendered manifests applied", () => assertApiserverAccepts(objects));

  // The validation is real: the server refuses a field its schema lacks, and an invalid value.
  const deployment = querierDeployment(objects);
  const container = deployment.spec.template.spec.containers[0];
  const withUnknownField = { ...deployment, spec: { ...deployment.spec, replicaz: 2 } };
  await assert.rejects(apiserver.apply(withUnknownField), /Deployment thanos-querier refused: .*replicaz/);
  const badName = { ...container, name: "Querier_Container" };
  const withBadName = { ...deployment, spec: { ...deployment.spec, template: { ...deployment.spec.template, spec: { ...deployment.spec.template.spec, containers: [badName] } } } };
  await assert.rejects(apiserver.apply(withBadName), /Deployment thanos-querier refused: .*Invalid value: "Querier_Container"/);
});

test(`changing thanosVersion ${FIRST_VERSION} -> ${NEXT_VERSION} updates in place with one restart`, { timeout: 10 * MINUTE }, async () => {
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
  assert.match(diff.stdout, /Resources:\s+~ 2 to update/);
  assert.deepEqual((await plannedChanges()).sort(), ["update prom-vm-sidecar", "update querier"], "only in-place updates");

  const before = await sandbox.sidecarUnitState();
  const upSince = new Date();
  await timed("pulumi up to the other version", () => stack.up());
  const after = await sandbox.sidecarUnitState();
  assert.equal(after.activeState, "active");
  assert.notEqual(after.invocationId, before.invocationId, "the sidecar was not restarted");
  const starts = (await sandbox.vmJournal({ unit: UNIT_NAME, since: upSince })).split("\n").filter((line) => /Started /.test(line));
  assert.equal(starts.length, 1, `expected one restart, journal shows:\n${starts.join("\n")}`);
  const execStart = await sandbox.vmShell(`systemctl show ${UNIT_NAME} -p ExecStart`);
  assert.match(execStart, new RegExp(`thanos-${NEXT_VERSION.replaceAll(".", "\\.")}/thanos`));
  assert.ok(await sidecarReady());

  const restarted = await timed("querier from the new manifests ready", restartQuerier);
  assert.equal(restarted.version, NEXT_VERSION);
  // Before 0.42 the endpoints are --endpoint flags instead of the sd-config.
  assert.ok(restarted.args.some((arg) => arg === `--endpoint=${sandbox.vmGrpcAddress}`), restarted.args.join(" "));
  await waitForQuerierStores(restarted.httpUrl, allSidecarAddresses());
  assert.deepEqual(await globalUp(restarted.httpUrl), [K8S_CLUSTER, VM_CLUSTER].sort());
  // The API server takes the updated Deployment (flags instead of the sd-config) as an update of the stored one.
  await assertApiserverAccepts(renderedObjects());
});

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
  // The connection is a secret input: its change is an update, shown as [secret]; the upload comes first.
  assert.deepEqual(await plannedChanges(), ["update prom-vm-install-code", "update prom-vm-sidecar"]);
  const before = await sandbox.sidecarUnitState();
  const since = new Date();
  const result = await timed("pulumi up with a wrong host key", () => stack.up([], { allowFailure: true }));
  const until = new Date();
  const output = `${result.stdout}\n${result.stderr}`;
  assert.notEqual(result.code, 0, output);
  // The provider retries a mismatch like any failed dial and counts the attempts after the first.
  const { dialErrorLimit } = (await sandbox.vmCommand()).connection;
  assert.match(output, new RegExp(`after ${dialErrorLimit} failed attempts: ssh: handshake failed: ssh: host key mismatch`));

  // Every dial reached sshd and ended before authentication: no login, no command.
  const connections = await newSshdConnections(since, until);
  assert.ok(!connections.some((line) => /Accepted|session opened/.test(line)), connections.join("\n"));
  const dials = new Set(connections.map((line) => /^sshd\[(\d+)\]/.exec(line)?.[1]));
  assert.equal(dials.size, dialErrorLimit + 1, `sshd saw:\n${connections.join("\n")}`);
  const after = await sandbox.sidecarUnitState();
  assert.equal(after.invocationId, before.invocationId);

  await stack.setConfig({ "vms[0].hostKey": sandbox.vm.hostKey });
  assert.deepEqual(await plannedChanges(), []);
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
  // The upload of the install's code dials first, with the same connection; the install never starts.
  const ours = (event: EngineEvent) => event.diagnosticEvent?.urn?.endsWith(INSTALL_CODE_UPLOAD) ?? false;
  const started = events.find((event) => event.resourcePreEvent?.metadata.urn.endsWith(INSTALL_CODE_UPLOAD));
  assert.ok(!events.some((event) => event.resourcePreEvent?.metadata.urn.endsWith(SIDECAR_COMMAND)), "the install ran after a failed upload");
  const error = events.find((event) => ours(event) && event.diagnosticEvent?.severity === "error");
  assert.ok(started && error, result.stdout.slice(-3000));
  assert.match(error.diagnosticEvent!.message, new RegExp(`after ${dialErrorLimit} failed attempts: dial tcp ${sandbox.vm.address.replaceAll(".", "\\.")}:${hole.port}: i/o timeout`));
  // dialErrorLimit + 1 dials of perDialTimeout each, with the SDK's short backoff (0.1 s x 1.5) between them.
  const dials = dialErrorLimit + 1;
  const retries = events.filter((event) => ours(event) && /^Dial \d+\/\d+ failed: retrying/.test(event.diagnosticEvent!.message));
  assert.equal(retries.length, dialErrorLimit, retries.map((event) => event.diagnosticEvent!.message).join("\n"));
  const seconds = error.timestamp - started.timestamp;
  assert.ok(seconds >= dials * perDialTimeout - 1 && seconds <= dials * perDialTimeout + 10, `failed after ${seconds} s`);

  await stack.setConfig({ "vms[0].port": "22" });
  assert.deepEqual(await plannedChanges(), []);
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
  type StateResource = { type: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> };
  const resources = (JSON.parse(exported) as { deployment: { resources: StateResource[] } }).deployment.resources;
  const sidecar = resources.find((resource) => resource.type === "command:remote:Command");
  assert.ok(sidecar?.inputs && sidecar.outputs, "no remote command in the state");
  assert.ok(isEncrypted(sidecar.inputs.connection), "the SSH connection (private key) is not encrypted in state");
  assert.ok(isEncrypted(sidecar.inputs.stdin), "the stdin payload (objstore secret key) is not encrypted in state");
  // The outputs repeat the inputs; stdout and stderr are secret through additionalSecretOutputs alone.
  for (const output of ["connection", "stdin", "stdout", "stderr"]) {
    assert.ok(output in sidecar.outputs, `no ${output} output in state`);
    assert.ok(isEncrypted(sidecar.outputs[output]), `the ${output} output is not encrypted in state`);
  }

  // The run directory holds the backend (every checkpoint and backup), the runtime config, each pulumi command's
  // output, the rendered manifests and the logs of every sandbox process.
  for (const secret of [secretKey, keyLine]) {
    assert.deepEqual(filesContaining(sandbox.runDir, secret), [], "plain secret in these files");
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

test("pulumi destroy removes the sidecar and the rendered querier, and leaves Prometheus and its blocks alone", { timeout: 10 * MINUTE }, async () => {
  const blocks = await waitFor("a block in the VM's TSDB", async () => {
    const found = await sandbox.vmTsdbBlocks();
    return found.length > 0 ? found : undefined;
  }, 4 * MINUTE, 5_000);
  const prometheusFiles = ["/etc/prometheus/prometheus.yml", "/etc/default/prometheus", ...blocks.map((b) => `/var/lib/prometheus/metrics2/${b}/meta.json`)];
  const hashesBefore = await sha256OnVm(prometheusFiles);
  const prometheusPid = await sandbox.vmShell("systemctl show prometheus.service -p MainPID");

  await timed("pulumi destroy", () => stack.destroy());

  assert.deepEqual(await stack.resourceUrns(), []);
  const gone = await sandbox.vmShell(`systemctl show ${UNIT_NAME} -p LoadState; ls -d ${UNIT_PATH} ${CONFIG_DIR} ${INSTALL_ROOT} 2>&1 || true`);
  assert.match(gone, /LoadState=not-found/);
  assert.equal((gone.match(/No such file or directory/g) ?? []).length, 3, gone);
  assert.ok(!(await sidecarReady()));
  const left = renderedManifests(renderDir).map((object) => `${object.kind}/${object.metadata.name}`);
  assert.deepEqual(left, [], "rendered manifests left behind");

  assert.equal(await sandbox.vmShell("systemctl show prometheus.service -p MainPID"), prometheusPid);
  assert.equal(await sha256OnVm(prometheusFiles), hashesBefore);
  assert.equal(await sandbox.vmShell("systemctl is-active prometheus.service"), "active\n");
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
  assert.deepEqual(renderedManifests(renderDir), []);
  assert.match(await sandbox.vmShell(`systemctl show ${UNIT_NAME} -p LoadState`), /LoadState=not-found/);
  await assertNoSshBetween(since, until);
});
