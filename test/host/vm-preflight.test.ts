/**
 * The install's preflight against a fake Prometheus on 127.0.0.1, on a simulated VM (simulatedVm.ts): its JSON
 * parsing (no jq on VMs), that each failure is one clear line naming the VM and the fix, and that a failed check
 * changes nothing (no unit, config or release is written).
 *
 * Needs root (TSDB directories owned by nobody and by root) and curl (the script fetches over HTTP).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import type { VmConfig } from "../../lib/config";
import { goodPrometheus, publishFakeRelease, startFakeHost, type FakeHost } from "./fakeHost";
import { requireRoot, requireTool } from "./requirements";
import { SimulatedVm } from "./simulatedVm";

describe("preflight", () => {
  let scratch = "";
  let host: FakeHost;
  let vm: SimulatedVm;

  before(async () => {
    requireRoot("the TSDB is handed to nobody, as the sidecar refuses a root-owned one");
    requireTool("curl", "curl");
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "tgv-preflight-"));
    host = await startFakeHost(goodPrometheus(""));
    publishFakeRelease(host, "0.42.4", scratch);
  });
  after(async () => {
    await host?.close(); // undefined when a requirement failed
    fs.rmSync(scratch, { recursive: true, force: true });
  });
  beforeEach(() => {
    vm = new SimulatedVm(fs.mkdtempSync(path.join(scratch, "vm-")), host);
    host.prometheus = goodPrometheus(vm.tsdb);
  });

  function install(overrides: Partial<VmConfig> = {}) {
    return vm.install(vm.input({ vm: overrides }));
  }

  /** The install stopped at its preflight: one line on stderr naming the VM and the parts, nothing on the VM. */
  function assertRefused(result: { code: number | null; stderr: string }, ...parts: string[]): void {
    assert.equal(result.code, 1, result.stderr);
    const lines = result.stderr.trim().split("\n");
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0], /^thanos-global-view: vm prom-vm: /);
    for (const part of parts) assert.ok(lines[0].includes(part), `missing "${part}" in: ${lines[0]}`);
    assert.equal(fs.existsSync(vm.unitPath), false, "a unit was written");
    assert.equal(fs.existsSync(vm.installRoot), false, "a release was installed");
    assert.equal(fs.existsSync(vm.configDir), false, "config was written");
  }

  it("passes against a Prometheus that fits, and the sidecar runs as the TSDB's owner", async () => {
    const result = await install();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    assert.match(vm.unit(), /^User=nobody$/m);
  });

  it("reads pretty-printed JSON too", async () => {
    host.prometheus.flagsBody = JSON.stringify({ status: "success", data: host.prometheus.flags }, null, 2);
    const result = await install();
    assert.equal(result.code, 0, result.stderr);
  });

  it("names both block-duration flags, the fix and the VM when they differ", async () => {
    host.prometheus.flags["storage.tsdb.max-block-duration"] = "1d";
    assertRefused(
      await install(),
      "storage.tsdb.min-block-duration=2h",
      "storage.tsdb.max-block-duration=1d",
      "--storage.tsdb.min-block-duration=2h --storage.tsdb.max-block-duration=2h",
      "configurePrometheus",
    );
  });

  it("fails clearly when the flags are not reported (an agent, not a server)", async () => {
    host.prometheus.flags["storage.tsdb.max-block-duration"] = undefined;
    assertRefused(await install(), "shows no storage.tsdb.max-block-duration");
  });

  for (const [name, yaml] of Object.entries({
    absent: "global:\n  scrape_interval: 15s\nscrape_configs: []\n",
    "empty map": "global:\n  scrape_interval: 15s\n  external_labels: {}\n",
    "only in a comment-like key elsewhere": "global:\n  scrape_interval: 15s\nrule_files:\n- external_labels.yml\n",
  })) {
    it(`rejects a Prometheus without external labels (${name})`, async () => {
      host.prometheus.configYaml = yaml;
      assertRefused(await install(), "has no external_labels", "global:");
    });
  }

  it("accepts labels that follow other global settings", async () => {
    host.prometheus.configYaml = "global:\n  scrape_interval: 1m\n  evaluation_interval: 1m\n  external_labels:\n    cluster: a\n    replica: \"0\"\n";
    const result = await install();
    assert.equal(result.code, 0, result.stderr);
  });

  it("says when Prometheus does not answer", async () => {
    assertRefused(await install({ prometheusUrl: "http://127.0.0.1:1" }), "Prometheus does not answer at http://127.0.0.1:1", "check prometheusUrl");
  });

  it("requires the TSDB directory", async () => {
    const missing = path.join(scratch, "missing");
    assertRefused(await install({ tsdbPath: missing }), `tsdbPath ${missing} does not exist`, `set it to ${vm.tsdb}, where Prometheus keeps it`);
  });

  it("warns when Prometheus keeps its TSDB elsewhere", async () => {
    host.prometheus.flags["storage.tsdb.path"] = "/var/lib/prometheus/other/";
    const result = await install();
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /warning: Prometheus reports storage\.tsdb\.path=\/var\/lib\/prometheus\/other\/ but tsdbPath is/);
  });

  it("refuses a root-owned TSDB unless runAs names a user", async () => {
    const rootOwned = fs.mkdtempSync(path.join(scratch, "root-tsdb-"));
    host.prometheus.flags["storage.tsdb.path"] = rootOwned;
    assertRefused(await install({ tsdbPath: rootOwned }), "is owned by root", "set runAs");
    const explicit = await install({ tsdbPath: rootOwned, runAs: "root" });
    assert.equal(explicit.code, 0, explicit.stderr);
    assert.match(vm.unit(), /^User=root$/m);
  });

  it("rejects a runAs user that does not exist", async () => {
    assertRefused(await install({ runAs: "no_such_user_tgv" }), "runAs user no_such_user_tgv does not exist");
  });
});
