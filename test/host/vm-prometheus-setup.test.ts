/**
 * Runs the real Prometheus setup script on scratch copies of Debian's /etc/default/prometheus and prometheus.yml,
 * with systemctl, journalctl and promtool as recording bash functions (fakes/prometheus-tools.sh) and a fake
 * Prometheus on 127.0.0.1.
 *
 * Needs curl: the script fetches over HTTP.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { parse } from "yaml";
import { prometheusSetupValues } from "../../lib/vm/prometheusSetup";
import { prometheusSecrets, vmSidecarPayload } from "../../lib/vm/payload";
import { renderScript } from "../../lib/vm/shell";
import { runBash, VM } from "../harness/vm";
import { type CommandResult } from "../harness/command";
import { goodPrometheus, startFakeHost, withFakes, type FakeHost } from "./fakeHost";
import { requireTool } from "./requirements";

/** As shipped by Debian's prometheus package. */
const DEBIAN_DEFAULTS = `# Set the command-line arguments to pass to the server.
# Due to shell escaping, to pass backslashes for regexes, you need to double
# them (\\\\d for \\d). If running under systemd, you need to double them again
# (\\\\\\\\d to mean \\d), and escape newlines too.
ARGS=""
`;

const PROMETHEUS_YML = `# my global config
global:
  scrape_interval: 15s # Set the scrape interval to every 15 seconds.
  evaluation_interval: 15s

scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['localhost:9090']
`;

/** The head of Debian's sample prometheus.yml, placeholder labels included. */
const DEBIAN_SAMPLE_YML = `# Sample config for Prometheus.

global:
  scrape_interval:     15s # Set the scrape interval to every 15 seconds. Default is every 1 minute.
  evaluation_interval: 15s # Evaluate rules every 15 seconds. The default is every 1 minute.
  # scrape_timeout is set to the global default (10s).

  # Attach these labels to any time series or alerts when communicating with
  # external systems (federation, remote storage, Alertmanager).
  external_labels:
      monitor: 'example'

# Alertmanager configuration
alerting:
  alertmanagers:
  - static_configs:
    - targets: ['localhost:9093']

scrape_configs:
  - job_name: 'prometheus'
    static_configs:
      - targets: ['localhost:9090']
`;

const LABELS = { cluster: "prom_vm", region: "eu 1" };

describe("Prometheus setup", () => {
  let scratch = "";
  let host: FakeHost;
  let defaults = "";
  let config = "";
  let fakeDir = "";

  before(async () => {
    requireTool("curl", "curl");
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "tgv-promsetup-"));
    host = await startFakeHost(goodPrometheus("/var/lib/prometheus/metrics2/"));
  });
  after(async () => {
    await host?.close(); // undefined when a requirement failed
    fs.rmSync(scratch, { recursive: true, force: true });
  });
  beforeEach(() => {
    const dir = fs.mkdtempSync(path.join(scratch, "vm-"));
    for (const sub of ["etc/default", "etc/prometheus", "fake"]) fs.mkdirSync(path.join(dir, sub), { recursive: true });
    defaults = path.join(dir, "etc/default/prometheus");
    config = path.join(dir, "etc/prometheus/prometheus.yml");
    fakeDir = path.join(dir, "fake");
    fs.writeFileSync(defaults, DEBIAN_DEFAULTS);
    fs.writeFileSync(config, PROMETHEUS_YML);
    host.prometheus = goodPrometheus("/var/lib/prometheus/metrics2/");
  });

  /** The script for the reference VM, its files and lock moved to the scratch directory, and 2 s for Prometheus to get ready. */
  function setup(signal?: { name: NodeJS.Signals; afterMs: number }): Promise<CommandResult> {
    const values = {
      ...prometheusSetupValues({ ...VM, prometheusUrl: host.url }, { externalLabels: LABELS, blockDuration: "2h" }),
      DEFAULTS_FILE: defaults,
      PROMETHEUS_CONFIG: config,
      LOCK_PATH: path.join(fakeDir, "lock"),
      WORK_ROOT: fakeDir,
      READY_TIMEOUT_SECONDS: 2,
    };
    const payload = vmSidecarPayload(prometheusSecrets({}));
    return runBash(withFakes(renderScript("prometheus-setup", values), { file: "prometheus-tools", variables: { FAKE_DIR: fakeDir } }), payload, signal);
  }

  const calls = (tool: string) => {
    const log = path.join(fakeDir, `${tool}.log`);
    return fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [];
  };
  const backups = () => fs.readdirSync(path.dirname(defaults)).concat(fs.readdirSync(path.dirname(config))).filter((f) => f.endsWith(".bak"));
  const leftovers = () =>
    fs.readdirSync(path.dirname(defaults)).concat(fs.readdirSync(path.dirname(config))).filter((f) => f.endsWith(".thanos-global-view.new"));
  const yml = () => parse(fs.readFileSync(config, "utf8")) as { global: Record<string, unknown>; scrape_configs: unknown[] };

  function assertOk(result: CommandResult): void {
    assert.equal(result.code, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  }

  it("adds both flags and the labels to Debian's files, backs them up, checks and restarts once", async () => {
    const result = await setup();
    assertOk(result);
    assert.match(fs.readFileSync(defaults, "utf8"), /^ARGS="--storage\.tsdb\.min-block-duration=2h --storage\.tsdb\.max-block-duration=2h"$/m);
    assert.deepEqual(yml().global, { scrape_interval: "15s", evaluation_interval: "15s", external_labels: LABELS });
    assert.equal(yml().scrape_configs.length, 1);
    assert.ok(fs.readFileSync(config, "utf8").startsWith("# my global config\nglobal:\n  external_labels:\n    cluster: \"prom_vm\"\n"));
    assert.deepEqual(calls("systemctl"), ["restart prometheus.service"]);
    assert.deepEqual(calls("promtool"), [`check config ${config}.thanos-global-view.new`]);
    assert.equal(backups().length, 2);
    const defaultsBackup = backups().find((name) => name.startsWith("prometheus.thanos-global-view-")) ?? "";
    assert.equal(fs.readFileSync(path.join(path.dirname(defaults), defaultsBackup), "utf8"), DEBIAN_DEFAULTS);
    assert.deepEqual(leftovers(), []);
    assert.match(result.stdout, /restarted prometheus\.service with .* external labels \{cluster: "prom_vm", region: "eu 1"\}: ready/);
  });

  it("changes nothing and restarts nothing on a second run", async () => {
    assertOk(await setup());
    const first = [fs.readFileSync(defaults, "utf8"), fs.readFileSync(config, "utf8"), backups().length];
    const result = await setup();
    assertOk(result);
    assert.match(result.stdout, /nothing changed/);
    assert.deepEqual([fs.readFileSync(defaults, "utf8"), fs.readFileSync(config, "utf8"), backups().length], first);
    assert.deepEqual(calls("systemctl"), ["restart prometheus.service"]);
  });

  it("keeps other flags and only adds the missing one", async () => {
    fs.writeFileSync(defaults, 'ARGS="--web.listen-address=127.0.0.1:9090 --storage.tsdb.min-block-duration 2h"\n');
    assertOk(await setup());
    assert.equal(
      fs.readFileSync(defaults, "utf8"),
      'ARGS="--web.listen-address=127.0.0.1:9090 --storage.tsdb.min-block-duration 2h --storage.tsdb.max-block-duration=2h"\n',
    );
  });

  it("leaves a different block duration to the user and changes nothing", async () => {
    fs.writeFileSync(defaults, 'ARGS="--storage.tsdb.max-block-duration=1d"\n');
    const result = await setup();
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^thanos-global-view: vm prom-vm: .*already sets --storage\.tsdb\.max-block-duration=1d, not 2h: edit it by hand/);
    assert.equal(fs.readFileSync(config, "utf8"), PROMETHEUS_YML);
    assert.deepEqual([backups(), leftovers(), calls("systemctl")], [[], [], []]);
  });

  it("accepts the wanted labels already there, in any quoting", async () => {
    fs.writeFileSync(config, "global:\n  external_labels:\n    region: 'eu 1'  # where\n    cluster: prom_vm\nscrape_configs: []\n");
    assertOk(await setup());
    assert.equal(fs.readFileSync(config, "utf8"), "global:\n  external_labels:\n    region: 'eu 1'  # where\n    cluster: prom_vm\nscrape_configs: []\n");
    assert.equal(backups().length, 1, "only the defaults file was edited");
  });

  it("leaves other external labels to the user", async () => {
    fs.writeFileSync(config, "global:\n  external_labels:\n    cluster: other\n");
    const result = await setup();
    assert.equal(result.code, 1);
    assert.match(result.stderr, /already has other external_labels \(cluster=other\) than the wanted \{cluster: "prom_vm", region: "eu 1"\}: edit them by hand/);
    assert.equal(fs.readFileSync(defaults, "utf8"), DEBIAN_DEFAULTS);
    assert.deepEqual([backups(), leftovers()], [[], []]);
  });

  it("replaces the placeholder labels of Debian's sample config, keeping the rest", async () => {
    fs.writeFileSync(config, DEBIAN_SAMPLE_YML);
    const result = await setup();
    assertOk(result);
    assert.match(result.stdout, /replacing the external_labels of Debian's sample config/);
    const parsed = parse(fs.readFileSync(config, "utf8")) as Record<string, Record<string, unknown>>;
    assert.deepEqual(parsed.global, { scrape_interval: "15s", evaluation_interval: "15s", external_labels: LABELS });
    assert.deepEqual(parsed.alerting, { alertmanagers: [{ static_configs: [{ targets: ["localhost:9093"] }] }] });
    assert.ok(fs.readFileSync(config, "utf8").includes("# Alertmanager configuration\n"));
    assertOk(await setup());
    assert.deepEqual(calls("systemctl"), ["restart prometheus.service"]);
  });

  it("adds a global section when there is none, and follows the file's indentation", async () => {
    fs.writeFileSync(config, "scrape_configs: []\n");
    assertOk(await setup());
    assert.deepEqual(yml(), { global: { external_labels: LABELS }, scrape_configs: [] });

    fs.writeFileSync(config, "global:\n    scrape_interval: 1m\nrule_files: []\n");
    assertOk(await setup());
    assert.ok(fs.readFileSync(config, "utf8").startsWith('global:\n    external_labels:\n        cluster: "prom_vm"\n'));
    assert.deepEqual(yml().global, { external_labels: LABELS, scrape_interval: "1m" });
  });

  it("changes nothing when promtool rejects the edited config", async () => {
    fs.writeFileSync(path.join(fakeDir, "promtool-rejects"), "");
    const result = await setup();
    assert.equal(result.code, 1);
    assert.match(result.stderr, /promtool rejects .* so nothing was changed: FAILED: parsing YAML file/);
    assert.equal(fs.readFileSync(defaults, "utf8"), DEBIAN_DEFAULTS);
    assert.equal(fs.readFileSync(config, "utf8"), PROMETHEUS_YML);
    assert.deepEqual([backups(), leftovers(), calls("systemctl")], [[], [], []]);
  });

  it("puts the backups back when Prometheus does not get ready", async () => {
    host.prometheus.ready = false;
    const result = await setup();
    assert.equal(result.code, 1);
    assert.match(result.stderr, /last journal lines of prometheus\.service:\nlevel=error msg="prometheus failed"/);
    assert.match(result.stderr, /did not get ready with the new settings within 2s; restored .* from the backups, but it is not ready either/);
    assert.equal(fs.readFileSync(defaults, "utf8"), DEBIAN_DEFAULTS);
    assert.equal(fs.readFileSync(config, "utf8"), PROMETHEUS_YML);
    assert.deepEqual(calls("systemctl"), ["restart prometheus.service", "restart prometheus.service"]);
  });

  it("puts the backups back when a dropped SSH session (HUP) cuts the restart on the edited files short", async () => {
    // Not ready: the script is still waiting for the restarted Prometheus when the session drops.
    host.prometheus.ready = false;
    const result = await setup({ name: "SIGHUP", afterMs: 600 });
    assert.equal(result.code, 129, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
    assert.match(`${result.stdout}${result.stderr}`, /interrupted: restored .*prometheus.* from the backups/);
    assert.equal(fs.readFileSync(defaults, "utf8"), DEBIAN_DEFAULTS);
    assert.equal(fs.readFileSync(config, "utf8"), PROMETHEUS_YML);
    assert.deepEqual(calls("systemctl"), ["restart prometheus.service", "restart prometheus.service"]);
    assert.deepEqual(leftovers(), []);
    assert.deepEqual(fs.readdirSync(fakeDir).filter((name) => name.startsWith("thanos-global-view-setup.")), [], "the work directory was left behind");
  });

  /** The fake Prometheus runs with 31d as max block duration until it has been restarted `restarts` times in all. */
  function oldSettingsUntilRestart(restarts: number): void {
    Object.defineProperty(host.prometheus.flags, "storage.tsdb.max-block-duration", {
      get: () => (calls("systemctl").filter((call) => call === "restart prometheus.service").length >= restarts ? "2h" : "31d"),
      enumerable: true,
      configurable: true,
    });
  }

  it("restarts a Prometheus whose files are right but which runs with old settings", async () => {
    assertOk(await setup());
    oldSettingsUntilRestart(2);
    const result = await setup();
    assertOk(result);
    assert.match(result.stdout, /the running Prometheus is not: restarting prometheus\.service/);
    assert.deepEqual(calls("systemctl"), ["restart prometheus.service", "restart prometheus.service"]);
  });

  it("fails, naming what to check, when the restarted Prometheus still runs without the settings", async () => {
    oldSettingsUntilRestart(Infinity);
    const result = await setup();
    assert.equal(result.code, 1);
    assert.match(result.stderr, /storage\.tsdb\.min-block-duration=2h but storage\.tsdb\.max-block-duration=31d/);
    assert.match(
      result.stderr,
      /restarted prometheus\.service, but the Prometheus at .* still does not run with .* check that prometheusUrl is this VM's packaged Prometheus and that prometheus\.service reads .*etc\/default\/prometheus/,
    );
    assert.deepEqual(calls("systemctl"), ["restart prometheus.service"]);
  });

  it("explains what to do on a Prometheus that is not Debian's package", async () => {
    fs.rmSync(defaults);
    const result = await setup();
    assert.equal(result.code, 1);
    assert.match(result.stderr, /configurePrometheus handles the Debian\/Ubuntu prometheus package .* set .* by hand, and turn configurePrometheus off/);
  });
});
