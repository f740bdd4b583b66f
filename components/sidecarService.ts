import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GRPC_PORT_NAME, serviceEndpointAddress, type QuerierEndpoint } from "../lib/endpoints";
import { PART_OF_LABEL } from "../lib/project";

export interface SidecarServiceArgs {
  serviceName: string;
  /** Must be the namespace of the Prometheus pods: a Service only selects pods of its own namespace. */
  namespace: pulumi.Input<string>;
  /** Labels of the Prometheus pods whose sidecar containers serve gRPC. */
  selector: Record<string, string>;
  port: number;
  /** The sidecar container's port, by name ("grpc" for prometheus-operator) or number. */
  targetPort: number | string;
  clusterDomain: string;
  /** How the querier finds the pods: every replica through SRV records (dnssrv), or A records at `port` (dns). */
  discovery: "dnssrv" | "dns";
  /** Whether the in-cluster sidecars serve gRPC with TLS. */
  tls: boolean;
}

/**
 * A headless Service in front of the in-cluster Prometheus sidecars. Headless, so DNS returns every replica and the
 * querier can reach and deduplicate each one instead of one load-balanced address.
 */
export class SidecarService extends pulumi.ComponentResource {
  readonly service: k8s.core.v1.Service;
  /** The querier's endpoint for every sidecar behind the Service. */
  readonly endpoint: pulumi.Output<QuerierEndpoint>;

  constructor(name: string, args: SidecarServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("thanos-global-view:kubernetes:SidecarService", name, {}, opts);
    this.service = new k8s.core.v1.Service(
      name,
      {
        metadata: {
          name: args.serviceName,
          namespace: args.namespace,
          labels: { "app.kubernetes.io/component": "thanos-sidecar", ...PART_OF_LABEL },
        },
        spec: {
          clusterIP: "None",
          selector: args.selector,
          ports: [{ name: GRPC_PORT_NAME, port: args.port, targetPort: args.targetPort, protocol: "TCP" }],
        },
      },
      { parent: this },
    );
    this.endpoint = pulumi.all([this.service.metadata.name, this.service.metadata.namespace]).apply(([serviceName, namespace]) => ({
      address: serviceEndpointAddress({ name: serviceName, namespace, clusterDomain: args.clusterDomain, port: args.port, discovery: args.discovery }),
      tls: args.tls,
    }));
    this.registerOutputs({ endpoint: this.endpoint });
  }
}
