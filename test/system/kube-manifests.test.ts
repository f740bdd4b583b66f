// Every Kubernetes object the program registers passes a real kube-apiserver (strict field validation, server-side
// apply), for configurations that between them switch on each Kubernetes feature: per-endpoint mTLS and its Secret,
// three replicas and their PodDisruptionBudget, the objstore Secret and the sidecar Service in the Prometheus
// namespace, extra endpoints, both querier argument forms, and the cold storage components with each of their options:
// time-partitioned store gateways with budgets, claims of a StorageClass or emptyDirs, the compactor with and without
// downsampling, a replicated query frontend, and the ServiceMonitors and PrometheusRule, validated against
// prometheus-operator's own CRDs, and the sandbox stack as the e2e tests deploy it. The objects are the inputs Pulumi's
// mocks receive, which the kubernetes provider would send (test/harness/kubernetesObjects.ts); the e2e tests check
// that they are the objects the real provider makes.
import { strict as assert } from "node:assert";
import { after, before, test } from "node:test";
import { prometheusOperatorCrds, startKubeApiserver, type KubeApiserver, type KubeObject } from "../sandbox/kubeApiserver";
import { createRunDir, processesMentioning, ProcessRegistry } from "../sandbox/process";
import { SANDBOX_SECRET_KEYS, sandboxStackConfig } from "../sandbox/stackConfig";
import { FAKE_SSH_KEY, referenceConfig, REFERENCE_SECRET_KEYS, tlsConfig, VM_HOST_KEY, withAllComponents } from "../harness/configs";
import { kubernetesObjects } from "../harness/kubernetesObjects";

const registry = new ProcessRegistry();
const runDir = createRunDir("kube-manifests");
let apiserver: KubeApiserver;

before(async () => {
  apiserver = await startKubeApiserver({ runDir, registry });
  await apiserver.installCustomResourceDefinitions(await prometheusOperatorCrds());
});

after(async () => {
  await registry.stopAll();
  assert.deepEqual(processesMentioning(runDir), [], "etcd or kube-apiserver still running");
});

/** The cluster's Prometheus namespace, which the stack uses but does not own. */
async function prometheusNamespaceExists(): Promise<void> {
  await apiserver.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "monitoring" } });
}

/** The querier container's args in a list of objects. */
function querierArgs(objects: readonly KubeObject[]): string[] {
  const deployment = objects.find((object) => object.kind === "Deployment" && object.metadata.name === "thanos-querier") as KubeObject & {
    spec: { template: { spec: { containers: { args: string[] }[] } } };
  };
  return deployment.spec.template.spec.containers[0].args;
}

/** The container args of every StatefulSet and Deployment, by kind/name. */
function workloadArgs(objects: readonly KubeObject[]): Record<string, string[]> {
  return Object.fromEntries(
    objects
      .filter((object) => object.kind === "StatefulSet" || object.kind === "Deployment")
      .map((object) => [`${object.kind}/${object.metadata.name}`, (object as any).spec.template.spec.containers[0].args as string[]]),
  );
}

/**
 * Applies every object; each must come back as the server stored it: the same kind and name, a uid it assigned, and
 * every workload's args exactly as sent (a custom resource's spec too). Returns the querier's stored args.
 */
async function applyAll(objects: readonly KubeObject[]): Promise<string[]> {
  const stored = await apiserver.applyAll(objects);
  stored.forEach((object, index) => {
    const sent = objects[index];
    assert.equal(`${object.kind}/${object.metadata.name}`, `${sent.kind}/${sent.metadata.name}`);
    assert.match(String(object.metadata.uid), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, `${sent.kind} ${sent.metadata.name}: no uid`);
    // Pruning would drop fields a CRD's schema does not know; strict validation refuses them first, but say so.
    if (sent.apiVersion.startsWith("monitoring.coreos.com/")) assert.deepEqual(object.spec, sent.spec, `${sent.kind} ${sent.metadata.name}`);
  });
  assert.deepEqual(workloadArgs(stored), workloadArgs(objects));
  const args = querierArgs(stored);
  assert.deepEqual(args, querierArgs(objects));
  return args;
}

const kinds = (objects: readonly KubeObject[]) => objects.map((object) => `${object.kind}/${object.metadata.namespace ?? ""}/${object.metadata.name}`).sort();

test("the reference setup (0.42.4, endpoints in the sd-config)", async () => {
  const objects = await kubernetesObjects(referenceConfig(), REFERENCE_SECRET_KEYS);
  assert.deepEqual(kinds(objects), [
    "Deployment/thanos/thanos-querier",
    "Namespace//thanos",
    "Service/thanos/sidecar",
    "Service/thanos/thanos-querier",
  ]);
  const args = await applyAll(objects);
  assert.ok(args.some((arg) => arg.startsWith("--endpoint.sd-config=")), args.join(" "));
});

test("0.42.4 with mTLS, three replicas, extra endpoints, the objstore Secret and the sidecar Service in the Prometheus namespace", async () => {
  const config = referenceConfig();
  config.tls = tlsConfig();
  config.kubernetes = {
    namespace: "observability",
    querier: {
      replicas: 3,
      replicaLabels: ["prometheus_replica", "rule_replica"],
      extraEndpoints: ["thanos-store.observability.svc.cluster.local:10901", { address: "store.example.com:10901", tls: true }],
    },
    sidecarService: { namespace: "monitoring", selector: { "app.kubernetes.io/name": "prometheus", prometheus: "k8s" } },
    objstoreSecret: { namespace: "monitoring" },
  };
  const objects = await kubernetesObjects(config, [...REFERENCE_SECRET_KEYS, "tls"]);
  assert.deepEqual(kinds(objects), [
    "Deployment/observability/thanos-querier",
    "Namespace//observability",
    "PodDisruptionBudget/observability/thanos-querier",
    "Secret/monitoring/thanos-objstore",
    "Secret/observability/thanos-querier-tls",
    "Service/monitoring/sidecar",
    "Service/observability/thanos-querier",
  ]);
  await prometheusNamespaceExists();
  await applyAll(objects);
});

test("0.34.1 (endpoints as flags), DNS discovery of the sidecar Service, no namespace of its own", async () => {
  const config = referenceConfig();
  config.thanosVersion = "0.34.1";
  config.kubernetes = {
    namespace: "monitoring",
    createNamespace: false,
    querier: { replicaLabels: ["prometheus_replica"], logLevel: "debug" },
    sidecarService: { discovery: "dns", port: 10911, targetPort: 10901 },
  };
  const objects = await kubernetesObjects(config, REFERENCE_SECRET_KEYS);
  assert.deepEqual(kinds(objects), ["Deployment/monitoring/thanos-querier", "Service/monitoring/sidecar", "Service/monitoring/thanos-querier"]);
  await prometheusNamespaceExists();
  const args = await applyAll(objects);
  assert.ok(args.includes("--endpoint=dns+sidecar.monitoring.svc.cluster.local:10911"), args.join(" "));
  assert.ok(args.includes("--endpoint=10.0.0.158:10901"), args.join(" "));
});

test("0.42.4 with every cold storage component: time partitions, replicas and budgets, a StorageClass, no downsampling, monitoring", async () => {
  const config = withAllComponents(referenceConfig()) as Record<string, any>;
  config.kubernetes.sidecarService = { namespace: "monitoring" };
  config.kubernetes.storeGateway = {
    enabled: true,
    replicas: 2,
    storage: { size: "50Gi", storageClassName: "fast-ssd" },
    indexCacheSize: "1GB",
    chunkPoolSize: "4GiB",
    timePartitions: [{ maxTime: "-2w" }, { minTime: "-2w", maxTime: "2030-01-01T00:00:00Z" }],
    resources: { requests: { cpu: "500m", memory: "2Gi" }, limits: { memory: "8Gi" } },
  };
  config.kubernetes.compactor = { enabled: true, downsampling: false, retention: { raw: "1d", fiveMinutes: "0d", oneHour: "0d" }, deleteDelay: "6h", concurrency: 2 };
  config.kubernetes.queryFrontend = { enabled: true, replicas: 2, splitInterval: "12h", cache: { maxSize: "512MiB", validity: "0s" } };
  config.kubernetes.monitoring = { enabled: true, interval: "15s", labels: { release: "kube-prometheus-stack" } };
  const objects = await kubernetesObjects(config, REFERENCE_SECRET_KEYS);
  assert.deepEqual(kinds(objects), [
    "Deployment/thanos/thanos-querier",
    "Deployment/thanos/thanos-query-frontend",
    "Namespace//thanos",
    "PodDisruptionBudget/thanos/thanos-query-frontend",
    "PodDisruptionBudget/thanos/thanos-store-0",
    "PodDisruptionBudget/thanos/thanos-store-1",
    "PrometheusRule/thanos/thanos-global-view",
    "Secret/thanos/thanos-objstore-config",
    "Service/monitoring/sidecar",
    "Service/thanos/thanos-compact",
    "Service/thanos/thanos-querier",
    "Service/thanos/thanos-query-frontend",
    "Service/thanos/thanos-store",
    "ServiceMonitor/monitoring/sidecar",
    "ServiceMonitor/thanos/thanos-compact",
    "ServiceMonitor/thanos/thanos-querier",
    "ServiceMonitor/thanos/thanos-query-frontend",
    "ServiceMonitor/thanos/thanos-store",
    "StatefulSet/thanos/thanos-compact",
    "StatefulSet/thanos/thanos-store-0",
    "StatefulSet/thanos/thanos-store-1",
  ]);
  await prometheusNamespaceExists();
  const args = await applyAll(objects);
  assert.ok(args.some((arg) => arg.includes("dnssrv+_grpc._tcp.thanos-store.thanos.svc.cluster.local")), args.join(" "));
});

test("0.34.1 with every cold storage component on its defaults, the store gateway on an emptyDir", async () => {
  const config = withAllComponents(referenceConfig()) as Record<string, any>;
  config.thanosVersion = "0.34.1";
  config.kubernetes.namespace = "cold";
  config.kubernetes.storeGateway = { enabled: true, storage: { emptyDir: true, size: "2Gi" } };
  config.kubernetes.objstoreSecret = { name: "thanos-objstore" };
  const objects = await kubernetesObjects(config, REFERENCE_SECRET_KEYS);
  assert.equal(objects.filter((object) => object.kind === "StatefulSet").length, 2);
  assert.deepEqual(
    objects.filter((object) => object.kind === "Secret").map((object) => object.metadata.name).sort(),
    ["thanos-objstore", "thanos-objstore-config"],
    "prometheus-operator's Secret and the components' one side by side",
  );
  const args = await applyAll(objects);
  assert.ok(args.includes("--endpoint=dnssrv+_grpc._tcp.thanos-store.cold.svc.cluster.local"), args.join(" "));
});

test("the sandbox stack (Pulumi.sandbox.yaml and a boot's values), as the e2e tests and make sandbox deploy it", async () => {
  const config = sandboxStackConfig({
    vmAddress: "10.244.255.10",
    vmHostKey: VM_HOST_KEY,
    sshPrivateKey: FAKE_SSH_KEY,
    objstoreEndpoint: "10.244.0.1:9000",
    objstoreAccessKey: "sandbox",
    objstoreSecretKey: "sandbox-secret",
    thanosUrlTemplate: "http://10.244.0.1:8080/v{version}/thanos-{version}.linux-{arch}.tar.gz",
    thanosSha256sumsUrlTemplate: "http://10.244.0.1:8080/v{version}/sha256sums.txt",
  });
  const objects = await kubernetesObjects(config, SANDBOX_SECRET_KEYS, "sandbox");
  assert.deepEqual(kinds(objects), [
    "Deployment/thanos/thanos-querier",
    "Deployment/thanos/thanos-query-frontend",
    "Namespace//thanos",
    "PodDisruptionBudget/thanos/thanos-querier",
    "PrometheusRule/thanos/thanos-global-view",
    "Secret/monitoring/thanos-objstore",
    "Secret/thanos/thanos-objstore-config",
    "Service/monitoring/sidecar",
    "Service/thanos/thanos-compact",
    "Service/thanos/thanos-querier",
    "Service/thanos/thanos-query-frontend",
    "Service/thanos/thanos-store",
    "ServiceMonitor/monitoring/sidecar",
    "ServiceMonitor/thanos/thanos-compact",
    "ServiceMonitor/thanos/thanos-querier",
    "ServiceMonitor/thanos/thanos-query-frontend",
    "ServiceMonitor/thanos/thanos-store",
    "StatefulSet/thanos/thanos-compact",
    "StatefulSet/thanos/thanos-store",
  ]);
  await prometheusNamespaceExists();
  // An earlier test's StatefulSets of the same names differ in fields the API server never updates (the claims' size):
  // the kubernetes provider replaces them then, as this does.
  for (const set of objects.filter((object) => object.kind === "StatefulSet")) await apiserver.delete(set);
  const args = await applyAll(objects);
  for (const endpoint of ["sidecar.monitoring", "thanos-store.thanos"]) {
    assert.ok(args.some((arg) => arg.includes(`dnssrv+_grpc._tcp.${endpoint}.svc.cluster.local`)), args.join(" "));
  }
});
