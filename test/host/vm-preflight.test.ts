/**
 * Runs the real preflight script against a fake Prometheus on 127.0.0.1, proving its JSON parsing (no jq on VMs)
 * and that each failure is one clear line naming the VM and the fix.
 *
 * Needs root (TSDB directories owned by nobody and by root), curl (the script fetches over HTTP), and systemctl and
 * journalctl, which the script requires on the VM (systemd).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import type { VmConfig } from "../../lib/config";
import { renderScript } from "../../lib/vm/shell";
import { sidecarScriptValues } from "../../lib/vm/sidecarValues";
import { runBash, STACK, VM, VM_HOST } from "../harness/vm";
import { goodPrometheus, startFakeHost, type FakeHost } from "./fakeHost";
import { requireRoot, requireTool } from "./requirements";

describe("preflight", () => {
  let scratch = "";
  let tsdb = "";
  let host: FakeHost;

  before(async () => {
    requireRoot("the TSDB is handed to nobody, as the sidecar refuses a root-owned one");
    requireTool("curl", "curl");
    for (const tool of ["systemctl", "journalctl"]) requireTool(tool, "systemd");
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "tgv-preflight-"));
    tsdb = path.join(scratch, "metrics2");
    fs.mkdirSync(tsdb);
    fs.chownSync(tsdb, 65534, 65534);
    host = await startFakeHost(goodPrometheus(tsdb));
  });
  after(async () => {
    await host?.close(); // undefined when a requirement failed
    fs.rmSync(scratch, { recursive: true, force: true });
  });
  beforeEach(() => {
    host.prometheus = goodPrometheus(tsdb);
  });

  function preflight(overrides: Partial<VmConfig> = {}) {
    const vm = { ...VM, prometheusUrl: `${host.url}/`, tsdbPath: tsdb, ...overrides };
    return runBash(renderScript("preflight", sidecarScriptValues(vm, VM_HOST, STACK)));
  }

  function assertOneLineError(stderr: string, ...parts: string[]): void {
    const lines = stderr.trim().split("\n");
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0], /^thanos-global-view: vm prom-vm: /);
    for (const part of parts) assert.ok(lines[0].includes(part), `missing "${part}" in: ${lines[0]}`);
  }

  it("passes against a Prometheus that fits, naming the sidecar's user", async () => {
    const result = await preflight();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    assert.match(result.stdout, /preflight passed: .* would run as nobody:\S+ on (amd64|arm64)$/m);
  });

  it("reads pretty-printed JSON too", async () => {
    host.prometheus.flagsBody = JSON.stringify({ status: "success", data: host.prometheus.flags }, null, 2);
    const result = await preflight();
    assert.equal(result.code, 0, result.stderr);
  });

  it("names both block-duration flags, the fix and the VM when they differ", async () => {
    host.prometheus.flags["storage.tsdb.max-block-duration"] = "1d";
    const result = await preflight();
    assert.equal(result.code, 1);
    assertOneLineError(
      result.stderr,
      "storage.tsdb.min-block-duration=2h",
      "storage.tsdb.max-block-duration=1d",
      "--storage.tsdb.min-block-duration=2h --storage.tsdb.max-block-duration=2h",
      "configurePrometheus",
    );
  });

  it("fails clearly when the flags are not reported (an agent, not a server)", async () => {
    host.prometheus.flags["storage.tsdb.max-block-duration"] = undefined;
    const result = await preflight();
    assert.equal(result.code, 1);
    assertOneLineError(result.stderr, "shows no storage.tsdb.max-block-duration");
  });

  for (const [name, yaml] of Object.entries({
    absent: "global:\n  scrape_interval: 15s\nscrape_configs: []\n",
    "empty map": "global:\n  scrape_interval: 15s\n  external_labels: {}\n",
    "only in a comment-like key elsewhere": "global:\n  scrape_interval: 15s\nrule_files:\n- external_labels.yml\n",
  })) {
    it(`rejects a Prometheus without external labels (${name})`, async () => {
      host.prometheus.configYaml = yaml;
      const result = await preflight();
      assert.equal(result.code, 1);
      assertOneLineError(result.stderr, "has no external_labels", "global:");
    });
  }

  it("accepts labels that follow other global settings", async () => {
    host.prometheus.configYaml = "global:\n  scrape_interval: 1m\n  evaluation_interval: 1m\n  external_labels:\n    cluster: a\n    replica: \"0\"\n";
    assert.equal((await preflight()).code, 0);
  });

  it("says when Prometheus does not answer", async () => {
    const result = await preflight({ prometheusUrl: "http://127.0.0.1:1" });
    assert.equal(result.code, 1);
    assertOneLineError(result.stderr, "Prometheus does not answer at http://127.0.0.1:1", "check prometheusUrl");
  });

  it("requires the TSDB directory", async () => {
    const result = await preflight({ tsdbPath: path.join(scratch, "missing") });
    assert.equal(result.code, 1);
    assertOneLineError(result.stderr, `tsdbPath ${path.join(scratch, "missing")} does not exist`, `set it to ${tsdb}, where Prometheus keeps it`);
  });

  it("warns when Prometheus keeps its TSDB elsewhere", async () => {
    host.prometheus.flags["storage.tsdb.path"] = "/var/lib/prometheus/other/";
    const result = await preflight();
    assert.equal(result.code, 0);
    assert.match(result.stderr, /warning: Prometheus reports storage\.tsdb\.path=\/var\/lib\/prometheus\/other\/ but tsdbPath is/);
  });

  it("refuses a root-owned TSDB unless runAs names a user", async () => {
    const rootOwned = fs.mkdtempSync(path.join(scratch, "root-tsdb-"));
    host.prometheus.flags["storage.tsdb.path"] = rootOwned;
    const refused = await preflight({ tsdbPath: rootOwned });
    assert.equal(refused.code, 1);
    assertOneLineError(refused.stderr, "is owned by root", "set runAs");
    const explicit = await preflight({ tsdbPath: rootOwned, runAs: "root" });
    assert.equal(explicit.code, 0, explicit.stderr);
    assert.match(explicit.stdout, /would run as root:root/);
  });

  it("rejects a runAs user that does not exist", async () => {
    const result = await preflight({ runAs: "no_such_user_tgv" });
    assert.equal(result.code, 1);
    assertOneLineError(result.stderr, "runAs user no_such_user_tgv does not exist");
  });
});
