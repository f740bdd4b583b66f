// The in-cluster Prometheus of the sandbox, as users run it: the real prometheus-operator (test/build/
// build-prometheus-operator, its CRDs from the same module) as a pod with its own service account, and a Prometheus
// resource asking for an HA pair (replicas: 2) with the Thanos sidecar, whose spec.thanos.objectStorageConfig names
// the Secret the stack makes (kubernetes.objstoreSecret). The operator generates the StatefulSet, its labels, port
// names and args: nothing here imitates them. The pods scrape each other through a ServiceMonitor, so there are
// series to query, and keep their TSDB on local volumes, which outlive the pods.
//
// The pods cannot start their sidecar before the stack has created the Secret: as on a real cluster, they wait for
// it (CreateContainerConfigError), then start. Needs a running Cluster.
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT } from "../repo";
import type { Cluster } from "./cluster";
import { clusterRoleBinding, STORAGE_CLASS } from "./clusterFiles";
import { runForStdout, waitFor } from "./process";

export const OPERATOR_NAMESPACE = "prometheus-operator";
/** Where the Prometheus pods run: the stack's sidecar Service and objstore Secret must be made here. */
export const PROMETHEUS_NAMESPACE = "monitoring";
/** The Prometheus resource's name; the operator names the pods prometheus-<name>-<ordinal>. */
export const PROMETHEUS_NAME = "k8s";
export const PROMETHEUS_REPLICAS = 2;
/** The Thanos sidecar's gRPC port in the operator's Prometheus pods (the operator's port named grpc). */
export const SIDECAR_GRPC_PORT = 10901;
/** The images it needs, as test/build/build-images names them (besides the Thanos sidecar's). */
export const IN_CLUSTER_PROMETHEUS_IMAGES = ["prometheus", "prometheus-operator", "prometheus-config-reloader"];

/** The operator build's directory: operator, prometheus-config-reloader, crds/. */
async function operatorBuildDir(): Promise<string> {
  return (await runForStdout(path.join(REPO_ROOT, "test", "build", "build-prometheus-operator"))).trim();
}

/** The operator's CustomResourceDefinition files (crds/*.yaml of its build), sorted. */
export async function prometheusOperatorCrdFiles(): Promise<string[]> {
  const crdDir = path.join(await operatorBuildDir(), "crds");
  return fs.readdirSync(crdDir).filter((name) => name.endsWith(".yaml")).sort().map((name) => path.join(crdDir, name));
}

/** The operator's version, from its build (the image tags follow it). */
function operatorVersion(buildDir: string): string {
  const version = /^(v\d+\.\d+\.\d+)-/.exec(path.basename(buildDir))?.[1];
  if (!version) throw new Error(`cannot tell the operator's version from ${buildDir}`);
  return version;
}

/** What the operator needs to watch and manage Prometheus servers in every namespace. */
function operatorObjects(version: string): Record<string, unknown>[] {
  const metadata = { name: "prometheus-operator", namespace: OPERATOR_NAMESPACE };
  const labels = { "app.kubernetes.io/name": "prometheus-operator" };
  const rule = (apiGroups: string[], resources: string[], verbs: string[]) => ({ apiGroups, resources, verbs });
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: OPERATOR_NAMESPACE } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "prometheus-operator" },
      rules: [
        rule(["monitoring.coreos.com"], ["*"], ["*"]),
        rule(["apps"], ["statefulsets", "daemonsets", "deployments"], ["*"]),
        rule([""], ["configmaps", "secrets", "services", "services/finalizers", "endpoints"], ["*"]),
        rule([""], ["pods"], ["list", "delete", "get", "watch"]),
        rule([""], ["nodes", "namespaces"], ["list", "watch", "get"]),
        rule([""], ["events"], ["create", "patch"]),
        rule(["events.k8s.io"], ["events"], ["create", "patch"]),
        rule(["discovery.k8s.io"], ["endpointslices"], ["*"]),
        rule(["networking.k8s.io"], ["ingresses"], ["get", "list", "watch"]),
        rule(["storage.k8s.io"], ["storageclasses"], ["get"]),
        rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
        rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
      ],
    },
    clusterRoleBinding("prometheus-operator", metadata),
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { ...metadata, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: "prometheus-operator",
            securityContext: { runAsUser: 65534, runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
            containers: [
              {
                name: "prometheus-operator",
                image: `quay.io/prometheus-operator/prometheus-operator:${version}`,
                imagePullPolicy: "IfNotPresent",
                // Its defaults otherwise: the reloader image of its own version, Prometheus and Thanos images by
                // their upstream names.
                args: ["--log-level=info", "--web.listen-address=:8080"],
                ports: [{ name: "http", containerPort: 8080 }],
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                readinessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 2 },
                resources: { requests: { cpu: "10m", memory: "32Mi" } },
              },
            ],
          },
        },
      },
    },
  ];
}

export interface InClusterPrometheusOptions {
  /** The Secret (made by the stack) the sidecars read their objstore config from, and its key. */
  objstoreSecret: { name: string; key: string };
  /** The Thanos version of the sidecars (its image must be imported). */
  thanosVersion: string;
  /** External labels; the operator adds `prometheus` and the replica label prometheus_replica. */
  externalLabels: Record<string, string>;
  scrapeInterval?: string;
}

/** The Prometheus pair, its service account and RBAC for discovery, and the ServiceMonitor it scrapes itself by. */
function prometheusObjects(options: InClusterPrometheusOptions): Record<string, unknown>[] {
  const metadata = { name: "prometheus", namespace: PROMETHEUS_NAMESPACE };
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: PROMETHEUS_NAMESPACE } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "prometheus" },
      rules: [
        { apiGroups: [""], resources: ["nodes", "nodes/metrics", "services", "endpoints", "pods"], verbs: ["get", "list", "watch"] },
        { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
        { apiGroups: [""], resources: ["configmaps"], verbs: ["get"] },
        { nonResourceURLs: ["/metrics"], verbs: ["get"] },
      ],
    },
    clusterRoleBinding("prometheus", metadata),
    {
      apiVersion: "monitoring.coreos.com/v1",
      kind: "Prometheus",
      metadata: { name: PROMETHEUS_NAME, namespace: PROMETHEUS_NAMESPACE },
      spec: {
        replicas: PROMETHEUS_REPLICAS,
        serviceAccountName: "prometheus",
        externalLabels: options.externalLabels,
        scrapeInterval: options.scrapeInterval ?? "5s",
        serviceMonitorSelector: {},
        securityContext: { runAsUser: 65534, runAsGroup: 65534, runAsNonRoot: true, fsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
        resources: { requests: { cpu: "10m", memory: "64Mi" } },
        storage: {
          volumeClaimTemplate: {
            spec: { storageClassName: STORAGE_CLASS, accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
          },
        },
        thanos: {
          version: `v${options.thanosVersion}`,
          objectStorageConfig: { name: options.objstoreSecret.name, key: options.objstoreSecret.key },
        },
      },
    },
    {
      // Each replica scrapes both (the operator's governing Service carries operated-prometheus: "true").
      apiVersion: "monitoring.coreos.com/v1",
      kind: "ServiceMonitor",
      metadata: { name: "prometheus", namespace: PROMETHEUS_NAMESPACE },
      spec: { selector: { matchLabels: { "operated-prometheus": "true" } }, endpoints: [{ port: "web", interval: options.scrapeInterval ?? "5s" }] },
    },
  ];
}

/** A Prometheus pod as the tests read it. */
export interface PrometheusPod {
  name: string;
  uid: string;
  ip: string;
  ready: boolean;
  /** Per container. */
  restarts: Record<string, number>;
  labels: Record<string, string>;
}

interface PodList {
  items: {
    metadata: { name: string; uid: string; labels: Record<string, string> };
    status: { podIP?: string; conditions?: { type: string; status: string }[]; containerStatuses?: { name: string; restartCount: number }[] };
  }[];
}

export class InClusterPrometheus {
  readonly namespace = PROMETHEUS_NAMESPACE;
  readonly name = PROMETHEUS_NAME;

  constructor(private readonly cluster: Cluster) {}

  /** The Prometheus pods the operator made (by its label app.kubernetes.io/name=prometheus). */
  async pods(): Promise<PrometheusPod[]> {
    const list = await this.cluster.getJson<PodList>(["-n", this.namespace, "pods", "-l", `app.kubernetes.io/name=prometheus,operator.prometheus.io/name=${this.name}`]);
    return list.items.map((pod) => ({
      name: pod.metadata.name,
      uid: pod.metadata.uid,
      ip: pod.status.podIP ?? "",
      ready: pod.status.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True") ?? false,
      restarts: Object.fromEntries((pod.status.containerStatuses ?? []).map((status) => [status.name, status.restartCount])),
      labels: pod.metadata.labels,
    })).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Waits until both replicas are Ready (which needs the stack's objstore Secret); the pods. */
  waitReady(timeoutMs = 3 * 60_000): Promise<PrometheusPod[]> {
    return waitFor(`both ${this.namespace}/${this.name} Prometheus pods Ready`, async () => {
      const pods = await this.pods();
      return pods.length === PROMETHEUS_REPLICAS && pods.every((pod) => pod.ready) ? pods : undefined;
    }, timeoutMs, 1_000);
  }

  /** A replica's Prometheus API, as the host reaches the pod. */
  url(pod: PrometheusPod): string {
    return `http://${pod.ip}:9090`;
  }
}

/**
 * Installs the operator's CRDs, runs the operator and creates the Prometheus resource. Resolves once the operator
 * has made the StatefulSet; the pods get Ready only once the stack's objstore Secret exists (waitReady).
 */
export async function startInClusterPrometheus(cluster: Cluster, options: InClusterPrometheusOptions): Promise<InClusterPrometheus> {
  const buildDir = await operatorBuildDir();
  // Server-side: the CRDs are too big for client-side apply's last-applied annotation.
  const crds = await prometheusOperatorCrdFiles();
  await cluster.kubectl(["apply", "--server-side", "--field-manager=thanos-global-view-sandbox", ...crds.flatMap((file) => ["-f", file])]);
  await cluster.kubectl(["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
  await cluster.apply(operatorObjects(operatorVersion(buildDir)));
  await cluster.rolloutStatus("deployment/prometheus-operator", OPERATOR_NAMESPACE);
  await cluster.createLocalVolumes(Array.from({ length: PROMETHEUS_REPLICAS }, (_, i) => `prometheus-${i}`), "1Gi");
  await cluster.apply(prometheusObjects(options));
  const prometheus = new InClusterPrometheus(cluster);
  await waitFor("the operator to make the Prometheus StatefulSet", async () => {
    const result = await cluster.kubectl(["-n", PROMETHEUS_NAMESPACE, "get", "statefulset", `prometheus-${PROMETHEUS_NAME}`], { allowFailure: true });
    return result.code === 0 ? true : undefined;
  }, 60_000, 500);
  return prometheus;
}
