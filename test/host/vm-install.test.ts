/**
 * Runs the real install and delete scripts on a simulated VM (simulatedVm.ts); the system tests later run them for
 * real over SSH.
 *
 * Needs root (the scripts chown files to the sidecar's user, here nobody) and curl (they fetch over HTTP).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { renderObjstoreYaml } from "../../lib/objstore";
import { parseExternalLabels } from "../../lib/fleet";
import { prometheusSecrets, sidecarSecrets, vmSidecarPayload } from "../../lib/vm/payload";
import { prometheusHttpClientYaml } from "../../lib/vm/prometheusAccess";
import { externalLabelsValues } from "../../lib/vm/prometheusSetup";
import { renderScript } from "../../lib/vm/shell";
import { runBash } from "../harness/vm";
import { type CommandResult } from "../harness/command";
import { goodPrometheus, publishFakeRelease, startFakeHost, type FakeHost } from "./fakeHost";
import { requireRoot, requireTool } from "./requirements";
import { NOBODY, OBJSTORE, SECRET, SimulatedVm } from "./simulatedVm";

/** systemctl calls of a change that was applied and then rolled back: the previous unit restarted after the new one. */
const APPLIED_THEN_ROLLED_BACK = [
  "daemon-reload",
  "enable --quiet thanos-sidecar.service",
  "restart thanos-sidecar.service",
  "daemon-reload",
  "restart thanos-sidecar.service",
];

function assertSucceeded(result: CommandResult): void {
  assert.equal(result.code, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
}

function assertNoSecret(result: CommandResult): void {
  assert.ok(!result.stdout.includes(SECRET) && !result.stderr.includes(SECRET), "the secret key was printed");
}

describe("install and delete on a simulated VM", () => {
  let scratch = "";
  let host: FakeHost;
  let vm: SimulatedVm;
  let sha042 = "";

  before(async () => {
    requireRoot("the scripts chown files to the sidecar's user");
    requireTool("curl", "curl");
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "tgv-install-"));
    host = await startFakeHost(goodPrometheus(""));
    vm = new SimulatedVm(path.join(scratch, "vm"), host);
    host.prometheus = goodPrometheus(vm.tsdb);
    sha042 = publishFakeRelease(host, "0.42.4", scratch).sha256;
    publishFakeRelease(host, "0.43.0", scratch);
  });
  after(async () => {
    await host?.close(); // undefined when a requirement failed
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it("first install downloads, verifies, writes config and unit, and starts the sidecar as the TSDB owner", async () => {
    const result = await vm.install(vm.input());
    assertSucceeded(result);
    assertNoSecret(result);
    assert.match(result.stdout, /installed thanos 0\.42\.4 \((amd64|arm64), sha256 [0-9a-f]{64}\)/);
    assert.match(result.stdout, /restarted thanos-sidecar\.service: ready at .* \(thanos 0\.42\.4 as nobody\)/);

    const binary = path.join(vm.versionDir("0.42.4"), "thanos");
    assert.equal(fs.statSync(binary).mode & 0o777, 0o755);
    assert.equal(fs.readFileSync(path.join(vm.versionDir("0.42.4"), "tarball.sha256"), "utf8").trim(), sha042);

    const objstore = path.join(vm.configDir, "objstore.yml");
    assert.equal(fs.readFileSync(objstore, "utf8"), renderObjstoreYaml(OBJSTORE, SECRET));
    const stat = fs.statSync(objstore);
    assert.equal(stat.mode & 0o777, 0o400);
    assert.equal(stat.uid, NOBODY);
    const dir = fs.statSync(vm.configDir);
    assert.equal(dir.mode & 0o777, 0o750);
    assert.equal(dir.uid, 0);

    assert.match(vm.unit(), /^User=nobody$/m);
    assert.ok(vm.unit().includes("ExecStart=/opt/thanos-global-view/thanos-0.42.4/thanos"));
    assert.match(fs.readFileSync(path.join(vm.configDir, "owner"), "utf8"), new RegExp(`^token=${String(vm.values(vm.input()).OWNER_TOKEN)}$`, "m"));
    assert.deepEqual(vm.takeSystemctlCalls(), ["daemon-reload", "enable --quiet thanos-sidecar.service", "restart thanos-sidecar.service"]);
    assert.equal(host.requests.get("/release/0.42.4/sha256sums.txt"), 1);
  });

  it("a second run with the same input downloads nothing and restarts nothing", async () => {
    const tarball = [...host.requests.keys()].find((url) => url.endsWith(".tar.gz") && url.includes("0.42.4")) ?? "";
    const downloads = host.requests.get(tarball);
    assert.equal(downloads, 1, "the first install should have downloaded the tarball once");
    const mtime = fs.statSync(path.join(vm.configDir, "objstore.yml")).mtimeMs;
    const result = await vm.install(vm.input());
    assertSucceeded(result);
    assert.match(result.stdout, /already installed .*: no download/);
    assert.match(result.stdout, /no changes: .* the sidecar was not restarted/);
    assert.equal(host.requests.get(tarball), downloads);
    assert.deepEqual(vm.takeSystemctlCalls(), []);
    assert.equal(fs.statSync(path.join(vm.configDir, "objstore.yml")).mtimeMs, mtime);
  });

  it("a changed setting rewrites the unit and restarts once", async () => {
    const result = await vm.install(vm.input({ logLevel: "warn" }));
    assertSucceeded(result);
    assert.match(result.stdout, /changing: .*thanos-sidecar\.service/);
    assert.ok(vm.unit().includes("--log.level=warn"));
    assert.deepEqual(vm.takeSystemctlCalls(), ["daemon-reload", "enable --quiet thanos-sidecar.service", "restart thanos-sidecar.service"]);
  });

  it("a checksum mismatch installs nothing and leaves the running sidecar alone", async () => {
    const before = vm.unit();
    const result = await vm.install(vm.input({ version: "0.43.0", sha256: { amd64: "f".repeat(64), arm64: "f".repeat(64) } }));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /checksum mismatch for .*thanos-0\.43\.0.*: expected sha256 f{64}, got [0-9a-f]{64}; nothing was installed/);
    assert.equal(fs.existsSync(vm.versionDir("0.43.0")), false);
    assert.equal(vm.unit(), before);
    assert.deepEqual(vm.takeSystemctlCalls(), []);
  });

  it("a change that never gets ready is rolled back, with the journal shown and the secret hidden", async () => {
    host.sidecarReady = () => !vm.unit().includes("--log.level=debug");
    const before = vm.unit();
    const result = await vm.install(vm.input({ logLevel: "debug", version: "0.43.0" }));
    assert.equal(result.code, 1);
    assertNoSecret(result);
    assert.match(result.stderr, /last journal lines of thanos-sidecar\.service:\n\[line hidden: it held a secret\]\nlevel=info msg="starting thanos sidecar"/);
    assert.match(result.stderr, /did not answer .* within 2s; the previous sidecar is back and ready/);
    assert.equal(vm.unit(), before);
    assert.equal(fs.existsSync(vm.versionDir("0.43.0")), false, "the new release was not removed");
    assert.ok(fs.existsSync(path.join(vm.versionDir("0.42.4"), "thanos")));
    assert.deepEqual(vm.takeSystemctlCalls(), APPLIED_THEN_ROLLED_BACK);
    host.sidecarReady = () => true;
  });

  it("a rollback waits for the previous sidecar on its own address", async () => {
    const before = vm.unit();
    const result = await vm.install(vm.input({ httpPort: 1 }));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /did not answer http:\/\/127\.0\.0\.1:1\/-\/ready within 2s; the previous sidecar is back and ready/);
    assert.equal(vm.unit(), before);
    vm.takeSystemctlCalls();
  });

  it("a change cut off by a dropped SSH session (HUP) is rolled back", async () => {
    host.sidecarReady = () => !vm.unit().includes("--log.level=debug");
    const before = vm.unit();
    const result = await vm.install(vm.input({ logLevel: "debug" }), undefined, { name: "SIGHUP", afterMs: 600 });
    host.sidecarReady = () => true;
    assert.equal(result.code, 129, result.stderr);
    assert.match(result.stderr, /the previous sidecar is back and ready/);
    assert.equal(vm.unit(), before);
    vm.takeSystemctlCalls();
  });

  it("a change whose session is gone (stderr closed) is still rolled back, and its work directory with the secrets removed", async () => {
    assert.deepEqual(fs.readdirSync(vm.workRoot), [], "an earlier test left a work directory");
    host.sidecarReady = () => !vm.unit().includes("--log.level=debug");
    const before = vm.unit();
    const result = await vm.install(vm.input({ logLevel: "debug" }), undefined, undefined, "exec 2>&-\n");
    host.sidecarReady = () => true;
    assert.equal(result.code, 1);
    assert.equal(vm.unit(), before);
    assert.deepEqual(fs.readdirSync(vm.workRoot), [], "the work directory (it holds the objstore secret) was left behind");
    assert.deepEqual(vm.takeSystemctlCalls(), APPLIED_THEN_ROLLED_BACK);
  });

  it("an upgrade installs the new release beside the old one and prunes the old one once ready", async () => {
    const result = await vm.install(vm.input({ version: "0.43.0" }));
    assertSucceeded(result);
    assert.ok(vm.unit().includes("ExecStart=/opt/thanos-global-view/thanos-0.43.0/thanos"));
    assert.match(result.stdout, /removed .*thanos-0\.42\.4: no longer used/);
    assert.equal(fs.existsSync(vm.versionDir("0.42.4")), false);
    vm.takeSystemctlCalls();
  });

  it("another owner's install takes the sidecar over without a restart", async () => {
    const renamed = vm.input({ version: "0.43.0", name: "renamed-vm" });
    const result = await vm.install(renamed);
    assertSucceeded(result);
    assert.match(result.stdout, /takes the sidecar over from thanos-global-view\/dev\/prom-vm/);
    assert.deepEqual(vm.takeSystemctlCalls(), []);
  });

  it("the old owner's delete (after a rename) leaves the sidecar running", async () => {
    const result = await vm.delete(vm.input({ version: "0.43.0" }));
    assertSucceeded(result);
    assert.match(result.stdout, /belongs to thanos-global-view\/dev\/renamed-vm, not thanos-global-view\/dev\/prom-vm: left in place/);
    assert.ok(fs.existsSync(vm.unitPath));
    assert.deepEqual(vm.takeSystemctlCalls(), []);
  });

  it("the owner's delete removes what the install wrote, and nothing of Prometheus", async () => {
    const shipper = path.join(vm.tsdb, "thanos.shipper.json");
    fs.writeFileSync(shipper, '{"version":1,"uploaded":[]}');
    const result = await vm.delete(vm.input({ version: "0.43.0", name: "renamed-vm" }));
    assertSucceeded(result);
    for (const gone of [vm.unitPath, vm.configDir, vm.installRoot]) assert.equal(fs.existsSync(gone), false, `${gone} remains`);
    assert.ok(fs.existsSync(shipper), "the TSDB was touched");
    assert.deepEqual(vm.takeSystemctlCalls(), ["disable --now --quiet thanos-sidecar.service", "daemon-reload", "reset-failed thanos-sidecar.service"]);
    const again = await vm.delete(vm.input());
    assertSucceeded(again);
    assert.match(again.stdout, /nothing to remove/);
  });

  it("a first install that never gets ready is undone completely", async () => {
    host.sidecarReady = () => false;
    const result = await vm.install(vm.input());
    host.sidecarReady = () => true;
    assert.equal(result.code, 1);
    assert.match(result.stderr, /this first install was undone/);
    for (const gone of [vm.unitPath, vm.configDir, vm.installRoot]) assert.equal(fs.existsSync(gone), false, `${gone} remains`);
    assert.ok(vm.takeSystemctlCalls().includes("disable --now --quiet thanos-sidecar.service"));
  });

  it("a failed preflight changes nothing", async () => {
    host.prometheus.flags["storage.tsdb.max-block-duration"] = "1d";
    const result = await vm.install(vm.input());
    host.prometheus.flags["storage.tsdb.max-block-duration"] = "2h";
    assert.equal(result.code, 1);
    assert.match(result.stderr, /storage\.tsdb\.min-block-duration=2h but storage\.tsdb\.max-block-duration=1d/);
    for (const gone of [vm.unitPath, vm.configDir, vm.installRoot]) assert.equal(fs.existsSync(gone), false, `${gone} exists`);
    assert.deepEqual(vm.takeSystemctlCalls(), []);
  });

  it("rejects a truncated payload before changing anything", async () => {
    const result = await vm.install(vm.input(), vmSidecarPayload({ objstoreYaml: "x", prometheus: {}, redact: [] }).replace("end\n", ""));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /the payload on stdin is truncated/);
    for (const gone of [vm.unitPath, vm.configDir, vm.installRoot]) assert.equal(fs.existsSync(gone), false, `${gone} exists`);
  });

  it("reaches a Prometheus behind basic auth with the payload's credentials: preflight, and the sidecar's own file", async () => {
    const credentials = { username: "thanos", password: "pa\"ss w0rd" };
    host.prometheus.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`;
    try {
      const without = await vm.install(vm.input({ logLevel: "warn" }));
      assert.equal(without.code, 1);
      assert.match(without.stderr, /Prometheus does not answer at http:\/\/127\.0\.0\.1:\d+ \(curl: \(22\) The requested URL returned error: 401\)/);
      assert.deepEqual(vm.takeSystemctlCalls(), []);

      const access = { credentials, caCert: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n" };
      const input = vm.input({ logLevel: "warn", vm: { prometheusClientConfig: true } });
      const result = await vm.install(input, vmSidecarPayload(sidecarSecrets(OBJSTORE, SECRET, undefined, access)));
      assertSucceeded(result);
      assert.ok(!`${result.stdout}${result.stderr}`.includes(credentials.password), "the password was printed");
      assert.match(vm.unit(), /--prometheus\.http-client-file=\/etc\/thanos-global-view\/prometheus-http\.yml/);
      for (const [file, content] of [
        ["prometheus-http.yml", prometheusHttpClientYaml(credentials, true)],
        ["prometheus-ca.crt", access.caCert],
      ]) {
        const target = path.join(vm.configDir, file);
        assert.equal(fs.readFileSync(target, "utf8"), content);
        assert.equal(fs.statSync(target).mode & 0o777, 0o400);
        assert.equal(fs.statSync(target).uid, NOBODY);
      }
      vm.takeSystemctlCalls();
    } finally {
      delete host.prometheus.authorization;
    }
    // Without credentials again, the files go and the flag with them.
    assertSucceeded(await vm.install(vm.input({ logLevel: "warn" })));
    assert.ok(!vm.unit().includes("--prometheus.http-client-file"));
    assert.deepEqual(["prometheus-http.yml", "prometheus-ca.crt"].filter((file) => fs.existsSync(path.join(vm.configDir, file))), []);
    vm.takeSystemctlCalls();
  });

  it("the label read prints Prometheus' external labels as the stack parses them, credentials from stdin", async () => {
    host.prometheus.configYaml = 'global:\n  scrape_interval: 15s\n  external_labels:\n    cluster: prom_vm\n    region: "eu \\"1\\""\nscrape_configs: []\n';
    host.prometheus.authorization = "Bearer t0k3n";
    try {
      const values = { ...externalLabelsValues({ name: "prom-vm", prometheusUrl: host.url }), WORK_ROOT: vm.workRoot };
      const payload = vmSidecarPayload(prometheusSecrets({ credentials: { bearerToken: "t0k3n" } }));
      const result = await runBash(renderScript("external-labels", values), payload);
      assertSucceeded(result);
      assert.deepEqual(parseExternalLabels(result.stdout), { cluster: "prom_vm", region: 'eu "1"' });
      assert.ok(!result.stdout.includes("t0k3n"));
      assert.deepEqual(fs.readdirSync(vm.workRoot), [], "the payload was left behind");
      const refused = await runBash(renderScript("external-labels", values), vmSidecarPayload(prometheusSecrets({})));
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /Prometheus does not answer at .*\/api\/v1\/status\/config \(curl: \(22\) The requested URL returned error: 401\): check prometheusUrl, its credentials/);
    } finally {
      delete host.prometheus.authorization;
      host.prometheus.configYaml = goodPrometheus(vm.tsdb).configYaml;
    }
  });
});
