import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GRPC_PORT_NAME, serviceEndpointAddress, type QuerierEndpoint } from "../lib/endpoints";
import { serviceMetricsTarget, type MetricsTarget } from "../lib/monitoring";
import { HTTP_PORT_NAME } from "../lib/pod";
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
  /** The sidecar container's HTTP port (name or number): given, the Service also exposes it as `http` (10902) for
   * metrics, and the component reports its metrics target. */
  httpTargetPort?: number | string;
}

const SIDECAR_HTTP_PORT = 10902;

/**
 * A headless Service in front of the in-cluster Prometheus sidecars. Headless, so DNS returns every replica and the
 * querier can reach and deduplicate each one instead of one load-balanced address.
 */
export class SidecarService extends pulumi.ComponentResource {
  readonly service: k8s.core.v1.Service;
  /** The querier's endpoint for every sidecar behind the Service. */
  readonly endpoint: pulumi.Output<QuerierEndpoint>;
  /** With httpTargetPort. */
  readonly metricsTarget?: pulumi.Output<MetricsTarget>;

  constructor(name: string, args: SidecarServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("thanos-global-view:kubernetes:SidecarService", name, {}, opts);
    const labels: Record<string, string> = { "app.kubernetes.io/component": "thanos-sidecar", ...PART_OF_LABEL };
    this.service = new k8s.core.v1.Service(
      name,
      {
        metadata: { name: args.serviceName, namespace: args.namespace, labels },
        spec: {
          clusterIP: "None",
          selector: args.selector,
          ports: [
            { name: GRPC_PORT_NAME, port: args.port, targetPort: args.targetPort, protocol: "TCP" },
            ...(args.httpTargetPort !== undefined
              ? [{ name: HTTP_PORT_NAME, port: SIDECAR_HTTP_PORT, targetPort: args.httpTargetPort, protocol: "TCP" }]
              : []),
          ],
        },
      },
      { parent: this },
    );
    this.endpoint = pulumi.all([this.service.metadata.name, this.service.metadata.namespace]).apply(([serviceName, namespace]) => ({
      address: serviceEndpointAddress({ name: serviceName, namespace, clusterDomain: args.clusterDomain, port: args.port, discovery: args.discovery }),
      tls: args.tls,
    }));
    if (args.httpTargetPort !== undefined) this.metricsTarget = serviceMetricsTarget("sidecar", this.service, labels, HTTP_PORT_NAME);
    this.registerOutputs({ endpoint: this.endpoint, metricsTarget: this.metricsTarget });
  }
}
