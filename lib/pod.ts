/**
 * The pod every Thanos workload of the stack runs in, as a plain function of typed input: the upstream image of the
 * configured version, user and group 65534 (nobody), no root, a read-only root filesystem, no capabilities, seccomp
 * RuntimeDefault, liveness on /-/healthy and readiness on /-/ready of the `http` port, and requests/limits as given.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { ThanosVersion } from "./thanosVersion";

type PodSpec = k8s.types.input.core.v1.PodSpec;
type Volume = k8s.types.input.core.v1.Volume;
type VolumeMount = k8s.types.input.core.v1.VolumeMount;

/** Requests and limits as config states them; unset entries are left out. */
export interface Resources {
  requests: Record<string, string | undefined>;
  limits: Record<string, string | undefined>;
}

/** The HTTP port (metrics, probes, APIs) of every Thanos component is named so; ServiceMonitors scrape it by name. */
export const HTTP_PORT_NAME = "http";

/** Where the Secret holding the objstore config is mounted. */
const OBJSTORE_MOUNT_PATH = "/etc/thanos/objstore";

export const thanosImage = (version: ThanosVersion, image: string | undefined) => image ?? `quay.io/thanos/thanos:v${version.text}`;

/** Kubernetes drops undefined keys anyway; dropping them here keeps previews and rendered manifests clean. */
const defined = (values: Record<string, string | undefined>) =>
  Object.fromEntries(Object.entries(values).filter((entry): entry is [string, string] => entry[1] !== undefined));

export interface ThanosPodInput {
  containerName: string;
  image: string;
  args: k8s.types.input.core.v1.Container["args"];
  /** Named container ports; one of them must be `http` (the probes use it). */
  ports: { name: string; containerPort: number }[];
  resources: Resources;
  volumes?: Volume[];
  volumeMounts?: VolumeMount[];
  /** Pod labels to spread replicas apart by (soft anti-affinity per node); none for a single pod. */
  spreadLabels?: Record<string, string>;
  /** How long a stopping pod may take (Kubernetes' default is 30 s). */
  terminationGracePeriodSeconds?: number;
}

const probe = (path: string, failureThreshold: number) => ({
  httpGet: { path, port: HTTP_PORT_NAME },
  periodSeconds: 5,
  timeoutSeconds: 3,
  failureThreshold,
});

function thanosPodSpec(input: ThanosPodInput): PodSpec {
  if (!input.ports.some((port) => port.name === HTTP_PORT_NAME)) throw new Error(`${input.containerName} has no ${HTTP_PORT_NAME} port for its probes`);
  return {
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65534,
      runAsGroup: 65534,
      fsGroup: 65534,
      seccompProfile: { type: "RuntimeDefault" },
    },
    ...(input.spreadLabels && {
      affinity: {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 100, podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: input.spreadLabels } } },
          ],
        },
      },
    }),
    ...(input.terminationGracePeriodSeconds !== undefined && { terminationGracePeriodSeconds: input.terminationGracePeriodSeconds }),
    // No Thanos component talks to the Kubernetes API: no service account token in the pod.
    automountServiceAccountToken: false,
    containers: [
      {
        name: input.containerName,
        image: input.image,
        args: input.args,
        ports: input.ports,
        livenessProbe: probe("/-/healthy", 4),
        // Only liveness restarts a pod; /-/healthy answers as soon as the process serves HTTP, also while a store
        // gateway's first bucket sync keeps /-/ready failing.
        readinessProbe: probe("/-/ready", 20),
        resources: { requests: defined(input.resources.requests), limits: defined(input.resources.limits) },
        securityContext: {
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
        },
        volumeMounts: input.volumeMounts ?? [],
      },
    ],
    volumes: input.volumes ?? [],
  };
}

/** A Kubernetes Secret holding the objstore config under `key` (the ObjectStore component makes it). */
export interface ObjstoreSecretRef {
  name: k8s.types.input.core.v1.SecretVolumeSource["secretName"];
  key: string;
}

/**
 * The objstore Secret as a file: its volume and mount, and the path for `--objstore.config-file`. Readable by the
 * pod's group only; the secret key never goes into an env var, an arg or the spec.
 */
export function objstoreSecretFile(secret: ObjstoreSecretRef): { volume: Volume; mount: VolumeMount; file: string } {
  return {
    volume: { name: "objstore", secret: { secretName: secret.name, defaultMode: 0o440, items: [{ key: secret.key, path: secret.key }] } },
    mount: { name: "objstore", mountPath: OBJSTORE_MOUNT_PATH, readOnly: true },
    file: `${OBJSTORE_MOUNT_PATH}/${secret.key}`,
  };
}

/** Where a workload's data volume is mounted (its `--data-dir`). */
export const DATA_DIR = "/var/thanos/data";

/** A workload's data directory: a PersistentVolumeClaim per pod, or an emptyDir (lost with the pod) when asked for. */
export interface Storage {
  /** A Kubernetes quantity: the claim's request, or the emptyDir's sizeLimit. */
  size: string;
  /** The claim's StorageClass; the cluster's default class when unset. */
  storageClassName?: string;
  emptyDir: boolean;
}

export function podDisruptionBudgetSpec(replicas: number, podLabels: Record<string, string>): k8s.types.input.policy.v1.PodDisruptionBudgetSpec | undefined {
  return replicas > 1 ? { maxUnavailable: 1, selector: { matchLabels: podLabels } } : undefined;
}

/**
 * A Deployment of interchangeable Thanos replicas. A new ReplicaSet's pod joins before an old one leaves: while it
 * cannot get Ready (a wrong image, a crashing flag), the running pods keep answering.
 */
export function thanosDeploymentSpec(input: { replicas: number; podLabels: Record<string, string>; pod: ThanosPodInput }): k8s.types.input.apps.v1.DeploymentSpec {
  return {
    replicas: input.replicas,
    strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    selector: { matchLabels: input.podLabels },
    template: { metadata: { labels: input.podLabels }, spec: thanosPodSpec({ spreadLabels: input.podLabels, ...input.pod }) },
  };
}

export interface ThanosStatefulSetInput {
  replicas: number;
  /** The headless Service that gives the pods their DNS names. */
  serviceName: k8s.types.input.apps.v1.StatefulSetSpec["serviceName"];
  podLabels: Record<string, string>;
  pod: ThanosPodInput;
  storage: Storage;
  /** Parallel for interchangeable replicas (store gateways); OrderedReady for the compactor (see components/compactor.ts). */
  podManagementPolicy: "Parallel" | "OrderedReady";
}

/** A StatefulSet of one Thanos container whose data directory is DATA_DIR on the given storage; updated pod by pod. */
export function thanosStatefulSetSpec(input: ThanosStatefulSetInput): k8s.types.input.apps.v1.StatefulSetSpec {
  const { storage } = input;
  const volumes: Volume[] = storage.emptyDir ? [{ name: "data", emptyDir: { sizeLimit: storage.size } }] : [];
  const volumeClaimTemplates: k8s.types.input.core.v1.PersistentVolumeClaim[] = storage.emptyDir
    ? []
    : [
        {
          metadata: { name: "data" },
          spec: {
            accessModes: ["ReadWriteOnce"],
            resources: { requests: { storage: storage.size } },
            ...(storage.storageClassName !== undefined && { storageClassName: storage.storageClassName }),
          },
        },
      ];
  return {
    replicas: input.replicas,
    serviceName: input.serviceName,
    podManagementPolicy: input.podManagementPolicy,
    updateStrategy: { type: "RollingUpdate" },
    selector: { matchLabels: input.podLabels },
    template: {
      metadata: { labels: input.podLabels },
      spec: thanosPodSpec({
        ...input.pod,
        volumes: [...(input.pod.volumes ?? []), ...volumes],
        volumeMounts: [...(input.pod.volumeMounts ?? []), { name: "data", mountPath: DATA_DIR }],
      }),
    },
    volumeClaimTemplates,
  };
}
