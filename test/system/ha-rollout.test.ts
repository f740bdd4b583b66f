// HA-aware rollouts with the real engine: two VMs whose Prometheus servers are replicas of one another (the same
// external labels but prometheus_replica) in one haGroup, a Thanos version change by `pulumi up`, and the pair's
// series asked of the real querier (started from the rendered Deployment) every 0.5 s meanwhile: never empty, as
// the replicas restart one after another. Its own stack, backend and VMs (127.0.1.30, 127.0.1.31). Needs root; a
// cold cache builds the toolchain, Thanos and the VM image first.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { runCommand } from "../harness/command";
import { minioBinary, startMinio, type MinioServer } from "../sandbox/minio";
import { startThanosMirror, type ThanosMirror } from "../sandbox/mirror";
import { watchOutages, type Outage } from "../sandbox/ports";
import { createRunDir, ProcessRegistry, sleep } from "../sandbox/process";
import { PulumiStack, startRenderedQuerier, toolchainEnv, waitForQuerierStores, type RenderedQuerier } from "../sandbox/stack";
import { instantQuery, thanosReleaseDir } from "../sandbox/thanos";
import { Vm } from "../sandbox/vm";

// An upgrade: a querier of 0.42.4 asking a 0.34.1 sidecar gets "runtime error: invalid memory address or nil pointer
// dereference" as a warning and no series, so a downgrade under a running newer querier would lose the pair anyway.
const FIRST_VERSION = "0.34.1";
const NEXT_VERSION = "0.42.4";
const ADDRESSES = ["127.0.1.30", "127.0.1.31"];
const PAIR = "pair";
const MINUTE = 60_000;

const registry = new ProcessRegistry();
const runDir = createRunDir("ha-rollout");
let vms: Vm[] = [];
let stack: PulumiStack;
let mirror: ThanosMirror;
let minio: MinioServer;
let querier: RenderedQuerier;

before(
  async () => {
    const env = await toolchainEnv();
    const keyFile = path.join(runDir, "id_ed25519");
    const keygen = await runCommand("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "thanos-global-view-ha", "-f", keyFile]);
    assert.equal(keygen.code, 0, keygen.stderr);
    const releases = await Promise.all([FIRST_VERSION, NEXT_VERSION].map(async (version) => ({ version, dir: await thanosReleaseDir(version) })));
    mirror = await startThanosMirror({ releases, registry });
    minio = await startMinio({ binary: await minioBinary(), runDir, registry });
    await minio.createBucket("thanos");
    vms = await Promise.all(
      ADDRESSES.map(async (address, index) => {
        const vm = await Vm.start({
          address,
          clientKeyFile: keyFile,
          prometheus: { externalLabels: { cluster: PAIR, prometheus_replica: String.fromCharCode(97 + index) }, scrapeInterval: "2s" },
        });
        registry.defer(`VM ${vm.name}`, () => vm.stop());
        return vm;
      }),
    );
    stack = new PulumiStack({ dir: path.join(runDir, "pulumi"), env, stack: "ha" });
    await stack.init();
    await stack.setAllConfig(
      {
        thanosVersion: FIRST_VERSION,
        thanosDownload: { urlTemplate: mirror.urlTemplate, sha256sumsUrlTemplate: mirror.sha256sumsUrlTemplate },
        // The querier checks its endpoints every info timeout; a replica waits that long (plus 5 s) after its
        // restart before the next one goes down.
        kubernetes: { renderYamlToDirectory: path.join(stack.dir, "rendered"), querier: { infoTimeout: "5s" }, sidecarService: { enabled: false } },
        vms: vms.map((vm, index) => ({ ...vm.stackEntry(`replica-${String.fromCharCode(97 + index)}`), haGroup: PAIR })),
        objstore: { bucket: "thanos", endpoint: minio.endpoint, insecure: true, accessKey: minio.accessKey },
      },
      { sshPrivateKey: fs.readFileSync(keyFile, "utf8"), objstoreSecretKey: minio.secretKey },
    );
  },
  { timeout: 30 * MINUTE },
);

after(async () => {
  await registry.stopAll();
});

const grpcAddresses = () => vms.map((vm) => `${vm.address}:10901`);

/** When systemd began to stop the VM's sidecar, and when it had started it again, since `since` (Unix seconds). */
async function sidecarRestart(vm: Vm, since: Date): Promise<{ stopping: number; started: number }> {
  const out = (await vm.exec(`journalctl --no-pager -o short-unix -u thanos-sidecar.service --since @${Math.floor(since.getTime() / 1000)}`)).stdout;
  const time = (pattern: RegExp) => {
    const times = out.split("\n").filter((line) => pattern.test(line)).map((line) => Number(line.split(" ")[0]));
    assert.equal(times.length, 1, `${vm.name}: ${pattern} in:\n${out}`);
    return times[0];
  };
  return { stopping: time(/systemd\[1\]: Stopping thanos-sidecar/), started: time(/systemd\[1\]: Started thanos-sidecar/) };
}

test("the first pulumi up installs both replicas; the querier from the rendered Deployment sees the pair", { timeout: 10 * MINUTE }, async () => {
  await stack.up();
  querier = await startRenderedQuerier({ renderDir: path.join(stack.dir, "rendered"), discovered: [], runDir, registry });
  await waitForQuerierStores(querier.httpUrl, grpcAddresses());
});

test(`a version change (${FIRST_VERSION} -> ${NEXT_VERSION}) restarts the replicas one after another; the pair's series never go missing`, { timeout: 10 * MINUTE }, async () => {
  await stack.setConfig({ thanosVersion: NEXT_VERSION });
  const since = new Date();
  const readiness = watchOutages(vms.map((vm) => `http://${vm.address}:10902/-/ready`));
  let polling = true;
  const polls: { at: number; series: number; warnings?: string[]; error?: string }[] = [];
  const poller = (async () => {
    while (polling) {
      const at = Date.now();
      try {
        const { series, warnings } = await instantQuery(querier.httpUrl, `up{cluster="${PAIR}"}`);
        polls.push({ at, series: series.length, ...(series.length === 0 && { warnings }) });
      } catch (error) {
        polls.push({ at, series: 0, error: (error as Error).message });
      }
      await sleep(Math.max(0, 500 - (Date.now() - at)));
    }
  })();
  let outages: Outage[][];
  try {
    await stack.up();
  } finally {
    polling = false;
    await poller;
    outages = await readiness.stop();
  }
  const empty = polls.filter((poll) => poll.series === 0);
  const seconds = (outage: Outage) => `${((outage.to - outage.from) / 1000).toFixed(1)} s`;
  const started = polls[0]?.at ?? 0;
  const at = (ms: number) => `${((ms - started) / 1000).toFixed(1)} s`;
  console.log(
    `polls: ${polls.length}, empty: ${empty.map((poll) => `${at(poll.at)} ${JSON.stringify(poll.warnings ?? poll.error)}`).join("; ") || "none"}; ` +
      `outages: ${outages.map((o, i) => `replica ${i}: ${o.map((outage) => `${at(outage.from)} for ${seconds(outage)}`).join(", ")}`).join("; ")}`,
  );
  assert.ok(polls.length >= 20, `only ${polls.length} polls`);
  assert.deepEqual(empty, [], "the pair's series were missing from the global view");
  // Each replica was restarted once, the second only after the first had started again (systemd's journal in each
  // VM, on the host's clock; an outage can be shorter than the 100 ms the readiness polls see).
  const [a, b] = await Promise.all(vms.map((vm) => sidecarRestart(vm, since)));
  assert.ok(b.stopping >= a.started, `replica b stopped at ${b.stopping}, before replica a had started again at ${a.started}`);
  assert.ok(outages.every((outage) => outage.length <= 1), JSON.stringify(outages));
  for (const vm of vms) {
    assert.match(await vm.exec("systemctl show thanos-sidecar.service -p ExecStart").then((r) => r.stdout), /thanos-0\.42\.4\/thanos/);
  }
});

test("a Prometheus that now reports another VM's labels fails the up before any install runs, naming both", { timeout: 10 * MINUTE }, async () => {
  const [a, b] = vms;
  const invocation = async (vm: Vm) => (await vm.exec("systemctl show thanos-sidecar.service -p InvocationID --value")).stdout.trim();
  const before = await invocation(b);
  // Replica b's Prometheus takes replica a's labels by hand; its label read runs again when it is replaced.
  await b.reconfigurePrometheus({ externalLabels: { cluster: PAIR, prometheus_replica: "a" }, scrapeInterval: "2s" });
  const urn = (await stack.resourceUrns()).find((candidate) => candidate.endsWith("::replica-b-external-labels"));
  assert.ok(urn);
  await stack.setConfig({ "vms[0].logLevel": "debug", "vms[1].logLevel": "debug" });
  const result = await stack.up(["--replace", urn], { allowFailure: true });
  const output = `${result.stdout}\n${result.stderr}`;
  assert.notEqual(result.code, 0, output);
  assert.match(
    output,
    /thanos-global-view:vms\[1\]: replica-b: its Prometheus reports the external labels \{cluster="pair", prometheus_replica="a"\}, as does vms\[0\] \(replica-a\)/,
  );
  // Neither install ran: the log level change waits, both sidecars keep running as they were.
  assert.equal(await invocation(b), before);
  for (const vm of [a, b]) assert.doesNotMatch((await vm.exec("cat /etc/systemd/system/thanos-sidecar.service")).stdout, /--log\.level=debug/);
});
