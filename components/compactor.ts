import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { compactorArgs, type Retention } from "../lib/compactor";
import { serviceMetricsTarget, type MetricsTarget } from "../lib/monitoring";
import {
  DATA_DIR,
  HTTP_PORT_NAME,
  objstoreSecretFile,
  thanosImage,
  thanosStatefulSetSpec,
  type ObjstoreSecretRef,
  type Resources,
  type Storage,
} from "../lib/pod";
import { thanosLabels } from "../lib/project";
import type { ThanosVersion } from "../lib/thanosVersion";

const COMPACTOR_HTTP_PORT = 10902;

/**
 * Exactly one compactor may work on a bucket: two would compact the same blocks and leave overlaps (the compactor
 * then halts) or delete each other's work. Hence a StatefulSet of one replica, not a Deployment:
 * - a StatefulSet never runs two pods of one identity. On an update (RollingUpdate) it deletes compactor-0 and creates
 *   the new compactor-0 only once the old one has terminated; on a node drain the evicted pod is re-created only once
 *   it is gone; on a node that stops answering, not until someone force-deletes the pod.
 * - a Deployment's ReplicaSet creates the replacement of an evicted or lost pod as soon as the old one is terminating
 *   or unreachable (even with strategy Recreate, which only covers updates), so two compactors can overlap.
 * The claim (ReadWriteOnce, one per identity) follows the pod, so the new pod also finds the old one's work directory.
 * No PodDisruptionBudget: a drain may stop the compactor, which resumes from the bucket when it starts again.
 */
const COMPACTOR_REPLICAS = 1;

export interface CompactorArgs {
  /** Name of the StatefulSet and its headless Service (pod `<name>-0`). */
  compactorName: string;
  namespace: pulumi.Input<string>;
  version: ThanosVersion;
  /** Defaults to the upstream image of `version`. */
  image?: string;
  /** How long each resolution is kept, in milliseconds; 0 keeps it forever. */
  retention: Retention;
  /** 5m and 1h downsampling; on unless switched off. */
  downsampling: boolean;
  /** Milliseconds between a block's deletion mark and its deletion (`--delete-delay`). */
  deleteDelay: number;
  /** Goroutines for compaction and for downsampling. */
  concurrency: number;
  /** The work directory: the blocks being compacted or downsampled are downloaded there. */
  storage: Storage;
  resources: Resources;
  logLevel: string;
  /** The Secret holding the objstore config (from the ObjectStore component), mounted as a file. */
  objstoreSecret: ObjstoreSecretRef;
}

/**
 * The compactor: compacts the sidecars' 2h blocks into larger ones, makes 5m and 1h downsampled copies, and applies
 * the retention of each resolution, over and over (`--wait`). One pod per bucket, ever (see COMPACTOR_REPLICAS).
 */
export class Compactor extends pulumi.ComponentResource {
  readonly service: k8s.core.v1.Service;
  readonly statefulSet: k8s.apps.v1.StatefulSet;
  readonly metricsTarget: pulumi.Output<MetricsTarget>;

  constructor(name: string, args: CompactorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("thanos-global-view:kubernetes:Compactor", name, {}, opts);
    const labels = thanosLabels("thanos-compact", args.compactorName, "database-compactor");
    const metadata = { name: args.compactorName, namespace: args.namespace, labels };

    // Headless: it only names the pod (the StatefulSet's governing Service) and lets its metrics be scraped.
    this.service = new k8s.core.v1.Service(
      name,
      {
        metadata,
        spec: {
          clusterIP: "None",
          selector: labels,
          ports: [{ name: HTTP_PORT_NAME, port: COMPACTOR_HTTP_PORT, targetPort: HTTP_PORT_NAME, protocol: "TCP" }],
        },
      },
      { parent: this },
    );

    const objstore = objstoreSecretFile(args.objstoreSecret);
    this.statefulSet = new k8s.apps.v1.StatefulSet(
      name,
      {
        metadata,
        spec: thanosStatefulSetSpec({
          replicas: COMPACTOR_REPLICAS,
          serviceName: this.service.metadata.name,
          podLabels: labels,
          podManagementPolicy: "OrderedReady",
          storage: args.storage,
          pod: {
            containerName: "thanos-compact",
            image: thanosImage(args.version, args.image),
            args: compactorArgs({
              logLevel: args.logLevel,
              httpAddress: `0.0.0.0:${COMPACTOR_HTTP_PORT}`,
              dataDir: DATA_DIR,
              objstoreConfigFile: objstore.file,
              retention: args.retention,
              downsampling: args.downsampling,
              deleteDelay: args.deleteDelay,
              concurrency: args.concurrency,
            }),
            ports: [{ name: HTTP_PORT_NAME, containerPort: COMPACTOR_HTTP_PORT }],
            resources: args.resources,
            volumes: [objstore.volume],
            volumeMounts: [objstore.mount],
            // Time to finish uploading a block it just made; an interrupted compaction is redone from the bucket.
            terminationGracePeriodSeconds: 120,
          },
        }),
      },
      { parent: this },
    );

    this.metricsTarget = serviceMetricsTarget("compactor", this.service, labels, HTTP_PORT_NAME);
    this.registerOutputs({ metricsTarget: this.metricsTarget });
  }
}
