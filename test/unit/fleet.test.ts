/** The fleet-wide rules: unique external label sets, HA replicas in one haGroup, rollout order, the label report. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fleetLabelProblems, formatLabels, parseExternalLabels, rolloutPredecessors, settleSeconds } from "../../lib/fleet";
import { prometheusCurlConfig, prometheusHttpClientYaml } from "../../lib/vm/prometheusAccess";

const at = (member: { index: number }) => `vms[${member.index}]`;
const REPLICA = ["prometheus_replica"];

describe("fleetLabelProblems", () => {
  it("names both VMs and the labels when two Prometheus servers share a label set", () => {
    const problems = fleetLabelProblems(
      [
        { index: 0, name: "prom-a", labels: { cluster: "eu", region: "west" } },
        { index: 1, name: "prom-b", labels: { cluster: "us" } },
        { index: 2, name: "prom-c", labels: { region: "west", cluster: "eu" } },
      ],
      REPLICA,
      at,
      "its Prometheus reports",
    );
    assert.equal(problems.length, 1);
    assert.match(problems[0], /^vms\[2\]: prom-c: its Prometheus reports the external labels \{cluster="eu", region="west"\}, as does vms\[0\] \(prom-a\); each Prometheus needs its own set/);
  });

  it("accepts HA replicas that differ only in a replica label when they share an haGroup", () => {
    const replicas = [
      { index: 0, name: "prom-a", haGroup: "eu", labels: { cluster: "eu", prometheus_replica: "a" } },
      { index: 1, name: "prom-b", haGroup: "eu", labels: { cluster: "eu", prometheus_replica: "b" } },
    ];
    assert.deepEqual(fleetLabelProblems(replicas, REPLICA, at, "reports"), []);
  });

  it("asks for one haGroup when replicas are not in one", () => {
    const problems = fleetLabelProblems(
      [
        { index: 0, name: "prom-a", labels: { cluster: "eu", prometheus_replica: "a" } },
        { index: 1, name: "prom-b", haGroup: "eu", labels: { cluster: "eu", prometheus_replica: "b" } },
      ],
      REPLICA,
      at,
      "configurePrometheus sets",
    );
    assert.equal(problems.length, 1);
    assert.match(problems[0], /^vms\[1\]: prom-b is an HA replica of vms\[0\] \(prom-a\): configurePrometheus sets \{cluster="eu", prometheus_replica="b"\}, the same labels but for prometheus_replica\. Fix: give both the same haGroup/);
  });
});

describe("rolloutPredecessors", () => {
  it("chains each haGroup in config order and leaves other VMs free", () => {
    assert.deepEqual(
      rolloutPredecessors([{ haGroup: "eu" }, {}, { haGroup: "us" }, { haGroup: "eu" }, { haGroup: "eu" }, { haGroup: "us" }]),
      [undefined, undefined, undefined, 0, 3, 2],
    );
  });

  it("waits out the querier's endpoint check plus a gRPC reconnect before the next replica goes down", () => {
    assert.equal(settleSeconds("30s"), 35);
    assert.equal(settleSeconds("1m30s"), 95);
    assert.equal(settleSeconds("500ms"), 6);
  });
});

describe("parseExternalLabels", () => {
  it("reads the block external-labels.sh prints, JSON-escaped YAML as Prometheus renders it", () => {
    const stdout =
      'thanos-global-view: vm prom-a: external labels:     cluster: prom_vm\\n    prometheus_replica: \\"1\\"\\n    region: eu \'west\'\n';
    assert.deepEqual(parseExternalLabels(stdout), { cluster: "prom_vm", prometheus_replica: "1", region: "eu 'west'" });
    assert.equal(formatLabels(parseExternalLabels(stdout)), `{cluster="prom_vm", prometheus_replica="1", region="eu 'west'"}`);
  });

  it("fails when the output holds no labels", () => {
    assert.throws(() => parseExternalLabels("something else\n"), /no external labels in the output/);
  });
});

describe("Prometheus credentials", () => {
  it("as a curl config, quotes and backslashes escaped", () => {
    assert.equal(prometheusCurlConfig({ username: "prom", password: 'p"a\\ss' }), 'user = "prom:p\\"a\\\\ss"\n');
    assert.equal(prometheusCurlConfig({ bearerToken: "t0k3n" }), 'header = "Authorization: Bearer t0k3n"\n');
  });

  it("as Thanos' HTTP client config: basic_auth or bearer_token, and the CA file", () => {
    assert.equal(
      prometheusHttpClientYaml({ username: "prom", password: "yes" }, true),
      'basic_auth:\n  username: prom\n  password: "yes"\ntls_config:\n  ca_file: /etc/thanos-global-view/prometheus-ca.crt\n',
    );
    assert.equal(prometheusHttpClientYaml({ bearerToken: "t0k3n" }, false), "bearer_token: t0k3n\n");
  });
});
