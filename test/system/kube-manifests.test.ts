// Every Kubernetes object the program registers passes a real kube-apiserver (strict field validation, server-side
// apply), for configurations that between them switch on each Kubernetes feature: per-endpoint mTLS and its Secret,
// three replicas and their PodDisruptionBudget, the objstore Secret and the sidecar Service in the Prometheus
// namespace, extra endpoints, both querier argument forms, and the sandbox stack as the e2e tests deploy it. The
// objects are the inputs Pulumi's mocks receive, which the kubernetes provider would send
// (test/harness/kubernetesObjects.ts); the e2e tests check that they are the objects the real provider makes.
import { strict as assert } from "node:assert";
import { after, before, test } from "node:test";
import { startKubeApiserver, type KubeApiserver, type KubeObject } from "../sandbox/kubeApiserver";
import { createRunDir, processesMentioning, ProcessRegistry } from "../sandbox/process";
import { SANDBOX_SECRET_KEYS, sandboxStackConfig } from "../sandbox/stackConfig";
import { FAKE_SSH_KEY, referenceConfig, REFERENCE_SECRET_KEYS, tlsConfig, VM_HOST_KEY } from "../harness/configs";
import { kubernetesObjects } from "../harness/kubernetesObjects";

const registry = new ProcessRegistry();
const runDir = createRunDir("kube-manifests");
let apiserver: KubeApiserver;

before(async () => {
  apiserver = await startKubeApiserver({ runDir, registry });
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
  const deployment = objects.find((object) => object.kind === "Deployment") as KubeObject & {
    spec: { template: { spec: { containers: { args: string[] }[] } } };
  };
  return deployment.spec.template.spec.containers[0].args;
}

/**
 * Applies every object; each must come back as the server stored it: the same kind and name, a uid it assigned, and
 * the querier's args exactly as sent. Returns the querier's stored args.
 */
async function applyAll(objects: readonly KubeObject[]): Promise<string[]> {
  const stored = await apiserver.applyAll(objects);
  stored.forEach((object, index) => {
    const sent = objects[index];
    assert.equal(`${object.kind}/${object.metadata.name}`, `${sent.kind}/${sent.metadata.name}`);
    assert.match(String(object.metadata.uid), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, `${sent.kind} ${sent.metadata.name}: no uid`);
  });
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
    "Namespace//thanos",
    "PodDisruptionBudget/thanos/thanos-querier",
    "Secret/monitoring/thanos-objstore",
    "Service/monitoring/sidecar",
    "Service/thanos/thanos-querier",
  ]);
  await prometheusNamespaceExists();
  const args = await applyAll(objects);
  assert.ok(args.some((arg) => arg.includes("dnssrv+_grpc._tcp.sidecar.monitoring.svc.cluster.local")), args.join(" "));
});
