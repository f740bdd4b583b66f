// The stack's querier as it runs in the sandbox cluster, read through the API: its Deployment's rollout state and its
// pods, each reached at its own address (the host is on the pods' bridge), so a test can ask every replica, or the
// global view from whichever is Ready. Names come from the stack's config, as the Querier component uses them.
import type { Cluster } from "./cluster";

export interface QuerierPod {
  name: string;
  uid: string;
  ip: string;
  ready: boolean;
  /** Set once the pod is being deleted. */
  terminating: boolean;
  image: string;
  /** The ReplicaSet it belongs to. */
  podTemplateHash: string;
  /** A container's reason for not running, e.g. ErrImagePull, if any. */
  waitingReason?: string;
}

export interface DeploymentStatus {
  generation: number;
  observedGeneration: number;
  replicas: number;
  updatedReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  image: string;
}

interface PodList {
  items: {
    metadata: { name: string; uid: string; labels: Record<string, string>; deletionTimestamp?: string };
    spec: { containers: { image: string }[] };
    status: {
      podIP?: string;
      conditions?: { type: string; status: string }[];
      containerStatuses?: { state?: { waiting?: { reason?: string } } }[];
    };
  }[];
}

interface Deployment {
  metadata: { generation: number };
  spec: { template: { spec: { containers: { image: string }[] } } };
  status: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; readyReplicas?: number; availableReplicas?: number };
}

/** The port the Querier component's container serves HTTP on. */
const QUERIER_HTTP_PORT = 10902;

export class ClusterQuerier {
  constructor(
    private readonly cluster: Cluster,
    readonly namespace: string,
    /** kubernetes.querier.name: the Deployment's name and its pods' app.kubernetes.io/instance. */
    readonly name: string,
  ) {}

  async deployment(): Promise<DeploymentStatus> {
    const deployment = await this.cluster.getJson<Deployment>(["-n", this.namespace, "deployment", this.name]);
    const status = deployment.status;
    return {
      generation: deployment.metadata.generation,
      observedGeneration: status.observedGeneration ?? 0,
      replicas: status.replicas ?? 0,
      updatedReplicas: status.updatedReplicas ?? 0,
      readyReplicas: status.readyReplicas ?? 0,
      availableReplicas: status.availableReplicas ?? 0,
      image: deployment.spec.template.spec.containers[0].image,
    };
  }

  /** Every pod of the Deployment, terminating ones too. */
  async pods(): Promise<QuerierPod[]> {
    const list = await this.cluster.getJson<PodList>(["-n", this.namespace, "pods", "-l", `app.kubernetes.io/name=thanos-query,app.kubernetes.io/instance=${this.name}`]);
    return list.items.map((pod) => ({
      name: pod.metadata.name,
      uid: pod.metadata.uid,
      ip: pod.status.podIP ?? "",
      ready: pod.status.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True") ?? false,
      terminating: pod.metadata.deletionTimestamp !== undefined,
      image: pod.spec.containers[0].image,
      podTemplateHash: pod.metadata.labels["pod-template-hash"] ?? "",
      waitingReason: pod.status.containerStatuses?.[0]?.state?.waiting?.reason,
    })).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** A pod's query API, at its own address. */
  url(pod: QuerierPod): string {
    return `http://${pod.ip}:${QUERIER_HTTP_PORT}`;
  }

  /** The URL of a Ready pod (the first by name). */
  async readyUrl(): Promise<string> {
    const ready = (await this.pods()).filter((pod) => pod.ready && !pod.terminating);
    if (ready.length === 0) throw new Error(`no Ready pod of ${this.namespace}/${this.name}`);
    return this.url(ready[0]);
  }
}
