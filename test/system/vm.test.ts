// Smoke test of the sandbox VM (test/sandbox/vm.ts): boots one, checks systemd, sshd and Prometheus inside, that nothing
// binds outside the VM address, that Prometheus can be reconfigured, and that stop() leaves nothing behind.
// Needs root (systemd-nspawn); the first run builds the root filesystem (minutes).
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { after, before, test } from "node:test";
import * as YAML from "yaml";
import { runCommand } from "../harness/command";
import { Vm } from "../sandbox/vm";
import { OPENSSH_PRIVATE_KEY_HEADER } from "../fixtures/fakeKeys";

// Its own address: 127.0.0.2 is the e2e tests' and the demo's VM, 127.0.0.3 the global-view tests'.
const VM_ADDRESS = "127.0.0.4";
let vm: Vm;

before(async () => {
  const t0 = Date.now();
  vm = await Vm.start({ address: VM_ADDRESS });
  console.log(`VM ${vm.name} booted (sshd and Prometheus ready) in ${Date.now() - t0} ms`);
});

after(async () => {
  await vm?.stop();
});

async function sh(cmd: string): Promise<string> {
  const r = await vm.exec(cmd);
  assert.equal(r.code, 0, `${cmd}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

async function apiData(endpoint: string): Promise<Record<string, unknown>> {
  const body = JSON.parse(await sh(`curl -sf http://${vm.address}:9090/api/v1/status/${endpoint}`)) as {
    data: Record<string, unknown>;
  };
  return body.data;
}

async function externalLabels(): Promise<unknown> {
  const config = YAML.parse((await apiData("config")).yaml as string) as { global: { external_labels?: unknown } };
  return config.global.external_labels ?? null;
}

test("systemd is PID 1 and Prometheus is active", async () => {
  assert.equal((await sh("ps -p 1 -o comm=")).trim(), "systemd");
  assert.equal((await sh("systemctl is-active prometheus.service")).trim(), "active");
  assert.equal((await sh("stat -c %U /var/lib/prometheus/metrics2")).trim(), "prometheus");
});

test("Prometheus runs with the default settings", async () => {
  const flags = await apiData("flags");
  assert.equal(flags["storage.tsdb.min-block-duration"], "2h");
  assert.equal(flags["storage.tsdb.max-block-duration"], "2h");
  assert.equal(flags["web.listen-address"], `${VM_ADDRESS}:9090`);
  assert.deepEqual(await externalLabels(), { cluster: "prom_vm" });
});

test("the exposed host key is the one sshd presents", async () => {
  const scan = await runCommand("ssh-keyscan", ["-t", "ed25519", "-p", String(vm.sshPort), vm.address]);
  const presented = scan.stdout
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.split(" ").slice(1, 3).join(" "));
  assert.deepEqual(presented, [vm.hostKey]);
  assert.match(vm.hostKey, /^ssh-ed25519 AAAA\S+$/);
  assert.ok(vm.privateKey.startsWith(OPENSSH_PRIVATE_KEY_HEADER), "an OpenSSH private key");
});

test("every VM listener is on the VM address", async () => {
  const pids = new Set(vm.processIds());
  const listeners = (await runCommand("ss", ["-ltunpH"])).stdout
    .split("\n")
    .filter((l) => [...l.matchAll(/pid=(\d+)/g)].some((m) => pids.has(Number(m[1]))))
    .map((l) => l.split(/\s+/)[4]);
  assert.deepEqual(listeners.sort(), [`${VM_ADDRESS}:22`, `${VM_ADDRESS}:9090`]);
});

test("exec passes stdin and returns the exit code", async () => {
  assert.deepEqual(await vm.exec("cat; echo err >&2; exit 3", { stdin: "hello" }), {
    code: 3,
    stdout: "hello",
    stderr: "err\n",
  });
});

test("Prometheus can be reconfigured", async () => {
  await vm.reconfigurePrometheus({
    minBlockDuration: "2m",
    maxBlockDuration: "4m",
    externalLabels: { cluster: "other", replica: "a" },
  });
  let flags = await apiData("flags");
  assert.equal(flags["storage.tsdb.min-block-duration"], "2m");
  assert.equal(flags["storage.tsdb.max-block-duration"], "4m");
  assert.deepEqual(await externalLabels(), { cluster: "other", replica: "a" });

  await vm.reconfigurePrometheus({ externalLabels: null });
  flags = await apiData("flags");
  assert.equal(flags["storage.tsdb.min-block-duration"], "2h");
  assert.equal(await externalLabels(), null);
});

test("stop removes the VM", async () => {
  const pids = vm.processIds();
  const t0 = Date.now();
  await vm.stop();
  console.log(`VM stopped in ${Date.now() - t0} ms`);
  for (const pid of pids) assert.ok(!fs.existsSync(`/proc/${pid}`), `process ${pid} still exists`);
  assert.ok(!fs.existsSync(vm.dir), `${vm.dir} still exists`);
  assert.equal((await vm.exec("true", { timeoutMs: 10_000 })).code, 255);
});
