import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { byType, isSecret, recorded, reveal, settle, valueOf } from "../harness/mocks";
import { Querier, type QuerierArgs } from "../../components/querier";
import { SidecarService } from "../../components/sidecarService";
import { parseThanosVersion } from "../../lib/thanosVersion";
import { FAKE_CA_CERT, FAKE_CERT, FAKE_TLS_KEY } from "../harness/configs";

const querierArgs = (overrides: Partial<QuerierArgs> = {}): QuerierArgs => ({
  querierName: "thanos-querier",
  namespace: "thanos",
  version: parseThanosVersion("0.42.4")!,
  replicas: 1,
  replicaLabels: ["prometheus_replica"],
  logLevel: "info",
  infoTimeout: "30s",
  endpoints: [
    { address: "dnssrv+_grpc._tcp.sidecar.thanos.svc.cluster.local", tls: false },
    { address: "10.0.0.158:10901", tls: false },
  ],
  resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi", cpu: undefined } },
  readyTimeoutSeconds: 300,
  clusterDomain: "cluster.local",
  ...overrides,
});

type Spec = Record<string, any>;

async function deploymentOf(name: string, args: QuerierArgs) {
  recorded.length = 0;
  const querier = new Querier(name, args);
  await valueOf(querier.httpUrl);
  await settle();
  const [deployment] = byType("kubernetes:apps/v1:Deployment");
  assert.ok(deployment, "no Deployment registered");
  return { querier, deployment: deployment.inputs as Spec };
}

describe("Querier", () => {
  it("runs the upstream image of the configured version with hardened defaults and probes", async () => {
    const { deployment } = await deploymentOf("q1", querierArgs());
    const pod = deployment.spec.template.spec;
    const [container] = pod.containers;
    assert.equal(container.image, "quay.io/thanos/thanos:v0.42.4");
    assert.deepEqual(pod.securityContext.runAsNonRoot, true);
    assert.deepEqual(container.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    assert.equal(container.livenessProbe.httpGet.path, "/-/healthy");
    assert.equal(container.readinessProbe.httpGet.path, "/-/ready");
    assert.equal(container.readinessProbe.httpGet.port, "http");
    assert.deepEqual(container.resources, { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } });
    assert.equal(pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey, "kubernetes.io/hostname");
    assert.deepEqual(container.ports.map((port: Spec) => [port.name, port.containerPort]), [["grpc", 10901], ["http", 10902]]);
  });

  it("rolls out new pods before it removes old ones, so a rollout that cannot get Ready leaves the querier answering", async () => {
    const { deployment } = await deploymentOf("q6", querierArgs({ replicas: 2 }));
    assert.deepEqual(deployment.spec.strategy, { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
  });

  it("puts the rendered args in the container and exposes the endpoints it dials", async () => {
    const { querier, deployment } = await deploymentOf("q2", querierArgs({ version: parseThanosVersion("0.34.1")! }));
    const args = deployment.spec.template.spec.containers[0].args as string[];
    assert.deepEqual(args, await valueOf(querier.args));
    assert.deepEqual(args.filter((arg) => arg.startsWith("--endpoint=")), [
      "--endpoint=dnssrv+_grpc._tcp.sidecar.thanos.svc.cluster.local",
      "--endpoint=10.0.0.158:10901",
    ]);
    assert.deepEqual(await valueOf(querier.stores), ["dnssrv+_grpc._tcp.sidecar.thanos.svc.cluster.local", "10.0.0.158:10901"]);
    assert.equal(await valueOf(querier.httpUrl), "http://thanos-querier.thanos.svc.cluster.local:10902");
  });

  it("adds a PodDisruptionBudget only with more than one replica", async () => {
    await deploymentOf("q3", querierArgs({ replicas: 1 }));
    assert.equal(byType("kubernetes:policy/v1:PodDisruptionBudget").length, 0);
    const { deployment } = await deploymentOf("q4", querierArgs({ replicas: 3 }));
    const [pdb] = byType("kubernetes:policy/v1:PodDisruptionBudget");
    assert.equal((pdb.inputs as Spec).spec.maxUnavailable, 1);
    // It, the Service and the Deployment all pick the querier's own pods.
    const podLabels = deployment.spec.template.metadata.labels;
    assert.deepEqual((pdb.inputs as Spec).spec.selector.matchLabels, podLabels);
    assert.deepEqual(deployment.spec.selector.matchLabels, podLabels);
    const [service] = byType("kubernetes:core/v1:Service");
    assert.deepEqual((service.inputs as Spec).spec.selector, podLabels);
    assert.deepEqual(
      (service.inputs as Spec).spec.ports.map((port: Spec) => [port.name, port.port, port.targetPort]),
      [["grpc", 10901, "grpc"], ["http", 10902, "http"]],
    );
  });

  it("mounts the client certificate from a secret Secret when endpoints use TLS", async () => {
    const { querier, deployment } = await deploymentOf(
      "q5",
      querierArgs({
        endpoints: [
          { address: "dnssrv+_grpc._tcp.sidecar.thanos.svc.cluster.local", tls: false },
          { address: "203.0.113.7:10901", tls: true },
        ],
        tls: { caCert: FAKE_CA_CERT, cert: FAKE_CERT, key: FAKE_TLS_KEY },
      }),
    );
    const [secret] = byType("kubernetes:core/v1:Secret");
    assert.equal((secret.inputs as Spec).metadata.name, "thanos-querier-tls");
    // Each file holds its own PEM (the CA differs from the certificate, so a swap shows).
    assert.deepEqual(reveal((secret.inputs as Spec).stringData), { "ca.crt": FAKE_CA_CERT, "tls.crt": FAKE_CERT, "tls.key": FAKE_TLS_KEY });
    const pod = deployment.spec.template.spec;
    assert.deepEqual(pod.volumes, [{ name: "tls", secret: { secretName: "thanos-querier-tls", defaultMode: 0o440 } }]);
    assert.deepEqual(pod.containers[0].volumeMounts, [{ name: "tls", mountPath: "/etc/thanos/tls", readOnly: true }]);
    assert.ok((await valueOf(querier.args)).some((arg) => arg.includes("cert_file: /etc/thanos/tls/tls.crt")));
    assert.ok(!JSON.stringify(deployment).includes("FAKE-TLS-KEY"), "the key must not be in the Deployment");
  });
});

describe("SidecarService", () => {
  it("is a headless Service with a grpc port targeting the sidecar container port, and reports its endpoint", async () => {
    recorded.length = 0;
    const service = new SidecarService("s1", {
      serviceName: "sidecar",
      namespace: "monitoring",
      selector: { "app.kubernetes.io/name": "prometheus" },
      port: 10901,
      targetPort: "grpc",
      clusterDomain: "cluster.local",
      discovery: "dnssrv",
      tls: true,
    });
    assert.deepEqual(await valueOf(service.endpoint), { address: "dnssrv+_grpc._tcp.sidecar.monitoring.svc.cluster.local", tls: true });
    const [recordedService] = byType("kubernetes:core/v1:Service");
    const spec = (recordedService.inputs as Spec).spec;
    assert.equal(spec.clusterIP, "None");
    assert.deepEqual(spec.selector, { "app.kubernetes.io/name": "prometheus" });
    assert.deepEqual(spec.ports, [{ name: "grpc", port: 10901, targetPort: "grpc", protocol: "TCP" }]);
    assert.equal(await isSecret(service.endpoint), false);
  });
});
