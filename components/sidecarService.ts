import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT } from "../lib/config";
import { SIDECAR_SERVICE_PORT_NAME } from "../lib/endpoints";

export interface SidecarServiceArgs {
  /** The Service's name; lib/endpoints derives the querier's discovery address from the same config value. */
  serviceName: string;
  /** Must be the namespace of the Prometheus pods: a Service only selects pods of its own namespace. */
  namespace: pulumi.Input<string>;
  /** Labels of the Prometheus pods whose sidecar containers serve gRPC. */
  selector: Record<string, string>;
  port: number;
  /** The sidecar container's port, by name ("grpc" for prometheus-operator) or number. */
  targetPort: number | string;
}

/**
 * A headless Service in front of the in-cluster Prometheus sidecars. Headless, so DNS returns every replica and the
 * querier can reach and deduplicate each one instead of one load-balanced address.
 */
export class SidecarService extends pulumi.ComponentResource {
  readonly service: k8s.core.v1.Service;
  readonly serviceName: pulumi.Output<string>;
  readonly namespace: pulumi.Output<string>;

  constructor(name: string, args: SidecarServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("thanos-global-view:kubernetes:SidecarService", name, {}, opts);
    this.service = new k8s.core.v1.Service(
      name,
      {
        metadata: {
          name: args.serviceName,
          namespace: args.namespace,
          labels: { "app.kubernetes.io/component": "thanos-sidecar", "app.kubernetes.io/part-of": PROJECT },
        },
        spec: {
          clusterIP: "None",
          selector: args.selector,
          ports: [{ name: SIDECAR_SERVICE_PORT_NAME, port: args.port, targetPort: args.targetPort, protocol: "TCP" }],
        },
      },
      { parent: this },
    );
    this.serviceName = this.service.metadata.name;
    this.namespace = this.service.metadata.namespace;
    this.registerOutputs({ serviceName: this.serviceName, namespace: this.namespace });
  }
}
