import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { byType, isSecretInput, recorded, reveal, runProgram, valueOf, type RecordedResource } from "../harness/mocks";
import { FAKE_OBJSTORE_SECRET, referenceConfig, REFERENCE_SECRET_KEYS, withAllComponents } from "../harness/configs";
import { goDuration, parseDuration, promDuration } from "../../lib/duration";
import { prometheusRuleGroups } from "../../lib/monitoring";
import { responseCacheConfig } from "../../lib/queryFrontend";
import { ignoreDeletionMarksDelay } from "../../lib/storeGateway";

type Spec = Record<string, any>;

const named = (type: string, name: string): Spec => {
  const found = byType(type).find((resource) => reveal(resource.inputs).metadata.name === name);
  assert.ok(found, `no ${type} named ${name}`);
  return reveal(found.inputs);
};
const statefulSet = (name: string) => named("kubernetes:apps/v1:StatefulSet", name);
const deployment = (name: string) => named("kubernetes:apps/v1:Deployment", name);
const containerOf = (workload: Spec) => workload.spec.template.spec.containers[0];

async function allOn(version: string, mutate: (config: Record<string, any>) => void = () => undefined) {
  const config = withAllComponents(referenceConfig()) as Record<string, any>;
  config.thanosVersion = version;
  mutate(config);
  return runProgram(config, REFERENCE_SECRET_KEYS);
}

const STORE_ARGS = [
  "store",
  "--log.level=info",
  "--grpc-address=0.0.0.0:10901",
  "--http-address=0.0.0.0:10902",
  "--data-dir=/var/thanos/data",
  "--objstore.config-file=/etc/thanos/objstore/objstore.yml",
  "--index-cache-size=250MB",
  "--chunk-pool-size=2GB",
  "--ignore-deletion-marks-delay=1d",
];
const COMPACT_ARGS = [
  "compact",
  "--wait",
  "--log.level=info",
  "--http-address=0.0.0.0:10902",
  "--data-dir=/var/thanos/data",
  "--objstore.config-file=/etc/thanos/objstore/objstore.yml",
  "--retention.resolution-raw=30d",
  "--retention.resolution-5m=30d",
  "--retention.resolution-1h=3650d",
  "--delete-delay=2d",
  "--compact.concurrency=1",
  "--downsample.concurrency=1",
];
const FRONTEND_ARGS = [
  "query-frontend",
  "--log.level=info",
  "--http-address=0.0.0.0:9090",
  "--query-frontend.downstream-url=http://thanos-querier.thanos.svc.cluster.local:10902",
  "--query-range.split-interval=24h",
  "--query-range.response-cache-config=type: IN-MEMORY\nconfig:\n  max_size: 256MB\n  max_size_items: 0\n  validity: 24h\n",
];

describe("cold storage under mocks", () => {
  for (const version of ["0.34.1", "0.42.4"]) {
    it(`renders the store gateway, compactor and query frontend flags for ${version}, on its image`, async () => {
      await allOn(version);
      // The flags are the same for both versions: each exists in both (test/system/cold-flags.test.ts checks --help).
      assert.deepEqual(containerOf(statefulSet("thanos-store")).args, STORE_ARGS);
      assert.deepEqual(containerOf(statefulSet("thanos-compact")).args, COMPACT_ARGS);
      assert.deepEqual(containerOf(deployment("thanos-query-frontend")).args, FRONTEND_ARGS);
      for (const workload of [statefulSet("thanos-store"), statefulSet("thanos-compact"), deployment("thanos-query-frontend")]) {
        assert.equal(containerOf(workload).image, `quay.io/thanos/thanos:v${version}`);
      }
    });
  }

  it("has the querier dial the store gateway's headless Service by SRV, after the sidecars, in both argument forms", async () => {
    const exports = await allOn("0.42.4");
    assert.deepEqual(await valueOf(exports.querierStores as any), [
      "dnssrv+_grpc._tcp.sidecar.thanos.svc.cluster.local",
      "10.0.0.158:10901",
      "dnssrv+_grpc._tcp.thanos-store.thanos.svc.cluster.local",
    ]);
    const sdConfig = containerOf(deployment("thanos-querier")).args.find((arg: string) => arg.startsWith("--endpoint.sd-config="));
    assert.deepEqual(parse(sdConfig.slice("--endpoint.sd-config=".length)).endpoints.at(-1), {
      address: "dnssrv+_grpc._tcp.thanos-store.thanos.svc.cluster.local",
    });
    const service = named("kubernetes:core/v1:Service", "thanos-store");
    assert.equal(service.spec.clusterIP, "None");
    assert.deepEqual(service.spec.ports[0], { name: "grpc", port: 10901, targetPort: "grpc", protocol: "TCP" });
    assert.deepEqual(service.spec.selector, statefulSet("thanos-store").spec.template.metadata.labels);

    await allOn("0.34.1");
    assert.ok(containerOf(deployment("thanos-querier")).args.includes("--endpoint=dnssrv+_grpc._tcp.thanos-store.thanos.svc.cluster.local"));
    await runProgram(referenceConfig(), REFERENCE_SECRET_KEYS);
    assert.equal(byType("thanos-global-view:kubernetes:StoreGateway").length, 0, "off by default");
    assert.ok(!JSON.stringify(containerOf(deployment("thanos-querier")).args).includes("thanos-store"));
  });

  it("runs exactly one compactor, as a StatefulSet updated pod by pod, never a Deployment, with no disruption budget", async () => {
    await allOn("0.42.4");
    const compactor = statefulSet("thanos-compact");
    assert.equal(compactor.spec.replicas, 1);
    assert.deepEqual(compactor.spec.updateStrategy, { type: "RollingUpdate" });
    assert.equal(compactor.spec.podManagementPolicy, "OrderedReady");
    assert.equal(compactor.spec.serviceName, "thanos-compact");
    assert.ok(!byType("kubernetes:apps/v1:Deployment").some((resource) => reveal(resource.inputs).metadata.name === "thanos-compact"));
    const budgets = byType("kubernetes:policy/v1:PodDisruptionBudget").map((resource) => reveal(resource.inputs).metadata.name);
    assert.ok(!budgets.includes("thanos-compact"), budgets.join(" "));
    assert.deepEqual(compactor.spec.volumeClaimTemplates, [
      { metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "20Gi" } } } },
    ]);
  });

  it("mounts the objstore config from the ObjectStore's Secret as a file; the secret key is in no other object", async () => {
    await allOn("0.42.4");
    const secrets = byType("kubernetes:core/v1:Secret");
    const componentsSecret = secrets.find((secret) => reveal(secret.inputs).metadata.name === "thanos-objstore-config")!;
    assert.ok(isSecretInput((componentsSecret.inputs as Spec).stringData));
    assert.equal(parse(reveal(componentsSecret.inputs).stringData["objstore.yml"]).config.secret_key, FAKE_OBJSTORE_SECRET);
    for (const name of ["thanos-store", "thanos-compact"]) {
      const pod = statefulSet(name).spec.template.spec;
      assert.deepEqual(pod.volumes[0], {
        name: "objstore",
        secret: { secretName: "thanos-objstore-config", defaultMode: 0o440, items: [{ key: "objstore.yml", path: "objstore.yml" }] },
      });
      assert.deepEqual(pod.containers[0].volumeMounts[0], { name: "objstore", mountPath: "/etc/thanos/objstore", readOnly: true });
      assert.equal(pod.containers[0].env, undefined, "no env: nothing secret can hide there");
    }
    const notSecrets = recorded.filter((resource: RecordedResource) => resource.type !== "kubernetes:core/v1:Secret" && resource.type !== "command:remote:Command");
    assert.ok(!JSON.stringify(notSecrets.map((resource) => reveal(resource.inputs))).includes(FAKE_OBJSTORE_SECRET));
  });

  it("rolls the Deployments out new pods first: one that never gets Ready takes no running pod away", async () => {
    await allOn("0.42.4");
    for (const name of ["thanos-querier", "thanos-query-frontend"]) {
      assert.deepEqual(deployment(name).spec.strategy, { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }, name);
    }
  });

  it("runs every workload as nobody, read-only, without capabilities or API token, with probes on the http port", async () => {
    await allOn("0.42.4");
    for (const workload of [statefulSet("thanos-store"), statefulSet("thanos-compact"), deployment("thanos-query-frontend"), deployment("thanos-querier")]) {
      const pod = workload.spec.template.spec;
      assert.equal(pod.automountServiceAccountToken, false);
      assert.deepEqual(pod.securityContext, { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, fsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } });
      const [container] = pod.containers;
      assert.deepEqual(container.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
      assert.deepEqual([container.livenessProbe.httpGet, container.readinessProbe.httpGet], [
        { path: "/-/healthy", port: "http" },
        { path: "/-/ready", port: "http" },
      ]);
      assert.ok(container.ports.some((port: Spec) => port.name === "http"));
      assert.ok(container.resources.limits.memory, `${workload.metadata.name} has no memory limit`);
    }
  });

  it("makes a StatefulSet per time partition with its range, a budget per partition, and an emptyDir when asked", async () => {
    await allOn("0.42.4", (config) => {
      config.kubernetes.storeGateway = {
        enabled: true,
        replicas: 2,
        storage: { size: "5Gi", emptyDir: true },
        timePartitions: [{ maxTime: "-2w" }, { minTime: "-2w" }],
      };
      config.kubernetes.compactor = { enabled: true, deleteDelay: "6h" };
    });
    const partitions = ["thanos-store-0", "thanos-store-1"].map(statefulSet);
    assert.deepEqual(
      partitions.map((set) => containerOf(set).args.filter((arg: string) => /^--(min|max)-time=|^--ignore-deletion/.test(arg))),
      [
        ["--ignore-deletion-marks-delay=3h", "--max-time=-14d"],
        ["--ignore-deletion-marks-delay=3h", "--min-time=-14d"],
      ],
    );
    for (const set of partitions) {
      assert.equal(set.spec.replicas, 2);
      assert.equal(set.spec.serviceName, "thanos-store", "one headless Service names every partition's pods");
      assert.deepEqual(set.spec.volumeClaimTemplates, []);
      assert.deepEqual(set.spec.template.spec.volumes.at(-1), { name: "data", emptyDir: { sizeLimit: "5Gi" } });
    }
    const budgets = byType("kubernetes:policy/v1:PodDisruptionBudget").map((resource) => reveal(resource.inputs));
    for (const set of partitions) {
      const budget = budgets.find((candidate) => candidate.metadata.name === set.metadata.name)!;
      assert.deepEqual(budget.spec, { maxUnavailable: 1, selector: { matchLabels: set.spec.template.metadata.labels } });
    }
    assert.notDeepEqual(partitions[0].spec.selector, partitions[1].spec.selector, "each StatefulSet selects only its own pods");
    assert.equal(byType("kubernetes:core/v1:Service").filter((service) => reveal(service.inputs).metadata.name.startsWith("thanos-store")).length, 1);
  });

  it("puts the query frontend in front of the querier's Service and exports its URL", async () => {
    const exports = await allOn("0.42.4", (config) => (config.kubernetes.queryFrontend = { enabled: true, replicas: 2, splitInterval: "12h", cache: { maxSize: "1GiB", validity: "2d" } }));
    assert.equal(await valueOf(exports.queryFrontendUrl as any), "http://thanos-query-frontend.thanos.svc.cluster.local:9090");
    assert.equal(await valueOf(exports.querierHttpUrl as any), "http://thanos-querier.thanos.svc.cluster.local:10902");
    const args = containerOf(deployment("thanos-query-frontend")).args as string[];
    assert.ok(args.includes(`--query-frontend.downstream-url=${await valueOf(exports.querierHttpUrl as any)}`));
    assert.ok(args.includes("--query-range.split-interval=12h"));
    const cache = parse(args.find((arg) => arg.startsWith("--query-range.response-cache-config="))!.split("=").slice(1).join("="));
    assert.deepEqual(cache, { type: "IN-MEMORY", config: { max_size: "1GiB", max_size_items: 0, validity: "48h" } });
    const budget = named("kubernetes:policy/v1:PodDisruptionBudget", "thanos-query-frontend");
    assert.equal(budget.spec.maxUnavailable, 1);
    const service = named("kubernetes:core/v1:Service", "thanos-query-frontend");
    assert.deepEqual(service.spec.ports, [{ name: "http", port: 9090, targetPort: "http" }]);
    await runProgram(referenceConfig(), REFERENCE_SECRET_KEYS);
    assert.equal(byType("kubernetes:apps/v1:Deployment").length, 1, "only the querier without the frontend");
  });

  it("adds a ServiceMonitor for each component's Service and port, and a PrometheusRule with the alerts", async () => {
    await allOn("0.42.4", (config) => (config.kubernetes.monitoring = { enabled: true, labels: { release: "kube-prometheus-stack" } }));
    const services = byType("kubernetes:core/v1:Service").map((resource) => reveal(resource.inputs));
    const monitors = byType("kubernetes:monitoring.coreos.com/v1:ServiceMonitor").map((resource) => reveal(resource.inputs));
    assert.deepEqual(monitors.map((monitor) => monitor.metadata.name).sort(), ["sidecar", "thanos-compact", "thanos-querier", "thanos-query-frontend", "thanos-store"]);
    for (const monitor of monitors) {
      assert.equal(monitor.metadata.labels.release, "kube-prometheus-stack");
      const service = services.find((candidate) => candidate.metadata.name === monitor.metadata.name)!;
      assert.equal(monitor.metadata.namespace, service.metadata.namespace);
      assert.deepEqual(monitor.spec.namespaceSelector, { matchNames: [service.metadata.namespace] });
      // It selects its Service, and the port it scrapes exists there.
      for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels)) assert.equal(service.metadata.labels[key], value, monitor.metadata.name);
      assert.ok(service.spec.ports.some((port: Spec) => port.name === monitor.spec.endpoints[0].port), monitor.metadata.name);
    }
    assert.deepEqual(named("kubernetes:core/v1:Service", "sidecar").spec.ports[1], { name: "http", port: 10902, targetPort: "http", protocol: "TCP" });
    const rule = named("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "thanos-global-view");
    const alerts = Object.fromEntries(rule.spec.groups[0].rules.map((alert: Spec) => [alert.alert, alert.expr]));
    assert.equal(alerts.ThanosCompactHalted, 'max by (namespace, job) (thanos_compact_halted{job="thanos-compact", namespace="thanos"}) == 1');
    assert.equal(alerts.ThanosCompactMultipleRunning, 'sum by (namespace, job) (up{job="thanos-compact", namespace="thanos"}) > 1');
    assert.equal(alerts.ThanosStoreGatewayDown, 'up{job="thanos-store", namespace="thanos"} == 0');
    assert.equal(alerts.ThanosSidecarDown, 'up{job="sidecar", namespace="thanos"} == 0');
    assert.match(alerts.ThanosSidecarUploadsFailing, /rate\(thanos_shipper_upload_failures_total\{job="sidecar", namespace="thanos"\}\[5m\]\)\) > 0$/);

    await allOn("0.42.4", (config) => (config.kubernetes.monitoring = { enabled: false }));
    assert.equal(byType("kubernetes:monitoring.coreos.com/v1:ServiceMonitor").length, 0);
    assert.equal(named("kubernetes:core/v1:Service", "sidecar").spec.ports.length, 1, "no metrics port without monitoring");
  });
});

describe("cold storage, pure parts", () => {
  it("spells durations for model.Duration and for Go's time.Duration", () => {
    assert.equal(parseDuration("1d12h30m"), (36 * 60 + 30) * 60_000);
    assert.deepEqual([promDuration(0), promDuration(48 * 3_600_000), promDuration(40 * 3_600_000), promDuration(7_500)], ["0s", "2d", "40h", "7500ms"]);
    assert.deepEqual([goDuration(86_400_000), goDuration(90_000), goDuration(0)], ["24h", "90s", "0s"]);
    assert.throws(() => parseDuration("1 day"));
  });

  it("ignores deletion marks after half the compactor's delete delay", () => {
    assert.equal(ignoreDeletionMarksDelay(48 * 3_600_000), "1d");
    assert.equal(ignoreDeletionMarksDelay(15_000), "7500ms");
    assert.equal(ignoreDeletionMarksDelay(0), "0s");
  });

  it("writes the response cache with exactly the keys Thanos reads (it drops unknown ones in silence)", () => {
    assert.deepEqual(Object.keys(parse(responseCacheConfig({ maxSize: "256MB", validity: 0 })).config), ["max_size", "max_size_items", "validity"]);
  });

  it("alerts on a component only when it is monitored", () => {
    const target = { serviceName: "x", namespace: "ns", serviceLabels: {}, port: "http" };
    const names = (component: "querier" | "compactor") => prometheusRuleGroups([{ component, ...target }])[0].rules.map((rule) => rule.alert);
    assert.deepEqual(names("querier"), ["ThanosQuerierDown"]);
    assert.deepEqual(names("compactor"), ["ThanosCompactorDown", "ThanosCompactHalted", "ThanosCompactMultipleRunning"]);
  });
});
