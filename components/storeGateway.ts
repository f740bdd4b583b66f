import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GRPC_PORT_NAME, serviceEndpointAddress, type QuerierEndpoint } from "../lib/endpoints";
import { serviceMetricsTarget, type MetricsTarget } from "../lib/monitoring";
import {
  DATA_DIR,
  HTTP_PORT_NAME,
  objstoreSecretFile,
  podDisruptionBudgetSpec,
  thanosImage,
  thanosStatefulSetSpec,
  type ObjstoreSecretRef,
  type Resources,
  type Storage,
} from "../lib/pod";
import { PROJECT, thanosLabels } from "../lib/project";
import { STORE_GATEWAY_GRPC_PORT, storeGatewayArgs, type TimePartition } from "../lib/storeGateway";
import type { ThanosVersion } from "../lib/thanosVersion";

const STORE_GATEWAY_HTTP_PORT = 10902;
/** Tells the pods of one time partition's StatefulSet from the others'. */
const PARTITION_LABEL = `${PROJECT}/time-partition`;

export interface StoreGatewayArgs {
  /** Name of the headless Service and of the StatefulSet, or with time partitions the StatefulSets `<name>-<i>`. */
  storeName: string;
  namespace: pulumi.Input<string>;
  version: ThanosVersion;
  /** Defaults to the upstream image of `version`. */
  image?: string;
  /** Pods per StatefulSet, each serving the same blocks; more than 1 adds a PodDisruptionBudget (maxUnavailable 1). */
  replicas: number;
  /** The data directory (index headers, a cache: rebuilt from the bucket when lost). */
  storage: Storage;
  resources: Resources;
  logLevel: string;
  /** `--index-cache-size`, e.g. 250MB. */
  indexCacheSize: string;
  /** `--chunk-pool-size`, e.g. 2GB. */
  chunkPoolSize: string;
  /** One StatefulSet per partition, serving only blocks of that time range; none: one StatefulSet for all blocks. */
  timePartitions: TimePartition[];
  /** The compactor's `--delete-delay` in milliseconds; deletion marks are ignored after half of it. */
  compactorDeleteDelay: number;
  /** The Secret holding the objstore config (from the ObjectStore component), mounted as a file. */
  objstoreSecret: ObjstoreSecretRef;
  clusterDomain: string;
}

/**
 * The store gateway: serves the blocks in the bucket over the StoreAPI, so the querier answers for time ranges no
 * Prometheus holds any more. A StatefulSet per time partition (so each pod keeps its index headers on its own claim)
 * behind one headless Service with a `grpc` port: the querier finds every pod of every partition through its SRV
 * records. Ready only after the first sync of the bucket's index headers.
 */
export class StoreGateway extends pulumi.ComponentResource {
  readonly service: k8s.core.v1.Service;
  readonly statefulSets: k8s.apps.v1.StatefulSet[];
  /** The querier's endpoint for every store gateway pod behind the Service. */
  readonly endpoint: pulumi.Output<QuerierEndpoint>;
  readonly metricsTarget: pulumi.Output<MetricsTarget>;

  constructor(name: string, args: StoreGatewayArgs, opts?: pulumi.ComponentResourceOptions) {
    super("thanos-global-view:kubernetes:StoreGateway", name, {}, opts);
    const labels = thanosLabels("thanos-store", args.storeName, "object-store-gateway");
    const metadata = { name: args.storeName, namespace: args.namespace, labels };

    this.service = new k8s.core.v1.Service(
      name,
      {
        metadata,
        spec: {
          clusterIP: "None",
          selector: labels,
          ports: [
            { name: GRPC_PORT_NAME, port: STORE_GATEWAY_GRPC_PORT, targetPort: GRPC_PORT_NAME, protocol: "TCP" },
            { name: HTTP_PORT_NAME, port: STORE_GATEWAY_HTTP_PORT, targetPort: HTTP_PORT_NAME, protocol: "TCP" },
          ],
        },
      },
      { parent: this },
    );

    const objstore = objstoreSecretFile(args.objstoreSecret);
    const partitions: (TimePartition | undefined)[] = args.timePartitions.length > 0 ? args.timePartitions : [undefined];
    this.statefulSets = partitions.map((partition, index) => {
      const partitioned = partition !== undefined;
      const setName = partitioned ? `${args.storeName}-${index}` : args.storeName;
      const podLabels = partitioned ? { ...labels, [PARTITION_LABEL]: String(index) } : labels;
      const setMetadata = { name: setName, namespace: args.namespace, labels: podLabels };
      const resourceName = partitioned ? `${name}-${index}` : name;
      const statefulSet = new k8s.apps.v1.StatefulSet(
        resourceName,
        {
          metadata: setMetadata,
          spec: thanosStatefulSetSpec({
            replicas: args.replicas,
            serviceName: this.service.metadata.name,
            podLabels,
            podManagementPolicy: "Parallel",
            storage: args.storage,
            pod: {
              containerName: "thanos-store",
              image: thanosImage(args.version, args.image),
              args: storeGatewayArgs({
                logLevel: args.logLevel,
                grpcAddress: `0.0.0.0:${STORE_GATEWAY_GRPC_PORT}`,
                httpAddress: `0.0.0.0:${STORE_GATEWAY_HTTP_PORT}`,
                dataDir: DATA_DIR,
                objstoreConfigFile: objstore.file,
                indexCacheSize: args.indexCacheSize,
                chunkPoolSize: args.chunkPoolSize,
                compactorDeleteDelay: args.compactorDeleteDelay,
                partition,
              }),
              ports: [
                { name: GRPC_PORT_NAME, containerPort: STORE_GATEWAY_GRPC_PORT },
                { name: HTTP_PORT_NAME, containerPort: STORE_GATEWAY_HTTP_PORT },
              ],
              resources: args.resources,
              volumes: [objstore.volume],
              volumeMounts: [objstore.mount],
              spreadLabels: podLabels,
              // In-flight queries finish; kube-thanos gives the store gateway the same.
              terminationGracePeriodSeconds: 120,
            },
          }),
        },
        { parent: this },
      );
      const disruptionBudget = podDisruptionBudgetSpec(args.replicas, podLabels);
      if (disruptionBudget) {
        new k8s.policy.v1.PodDisruptionBudget(resourceName, { metadata: setMetadata, spec: disruptionBudget }, { parent: this });
      }
      return statefulSet;
    });

    this.endpoint = pulumi.all([this.service.metadata.name, this.service.metadata.namespace]).apply(([serviceName, namespace]) => ({
      address: serviceEndpointAddress({ name: serviceName, namespace, clusterDomain: args.clusterDomain, port: STORE_GATEWAY_GRPC_PORT, discovery: "dnssrv" }),
      tls: false,
    }));
    this.metricsTarget = serviceMetricsTarget("storeGateway", this.service, labels, HTTP_PORT_NAME);
    this.registerOutputs({ endpoint: this.endpoint, metricsTarget: this.metricsTarget });
  }
}
