import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { thanosLabels } from "../lib/project";
import type { QuerierEndpoint } from "../lib/endpoints";
import { serviceMetricsTarget, type MetricsTarget } from "../lib/monitoring";
import { HTTP_PORT_NAME, podDisruptionBudgetSpec, thanosDeploymentSpec, thanosImage, type Resources } from "../lib/pod";
import { querierArgs, type QuerierClientTls } from "../lib/querier";
import type { ThanosVersion } from "../lib/thanosVersion";

const QUERIER_HTTP_PORT = 10902;
const QUERIER_GRPC_PORT = 10901;
const TLS_MOUNT_PATH = "/etc/thanos/tls";

export interface QuerierTlsArgs {
  caCert: pulumi.Input<string>;
  cert: pulumi.Input<string>;
  key: pulumi.Input<string>;
  /** The DNS name in the sidecars' certificates, when it is not the address the querier dials. */
  serverName?: string;
}

export interface QuerierArgs {
  /** Name of the Deployment, Service and friends. */
  querierName: string;
  namespace: pulumi.Input<string>;
  version: ThanosVersion;
  /** Defaults to the upstream image of `version`. */
  image?: string;
  replicas: number;
  replicaLabels: string[];
  logLevel: string;
  infoTimeout: string;
  /** Every endpoint the querier dials, in order. */
  endpoints: pulumi.Input<QuerierEndpoint[]>;
  resources: Resources;
  /** How long a create or update waits for the rollout (replicas updated and Ready, the Service's endpoints). */
  readyTimeoutSeconds: number;
  tls?: QuerierTlsArgs;
  clusterDomain: string;
}

/**
 * The Thanos Querier: a Deployment fanning queries out to every sidecar and deduplicating replicas, the Service
 * in front of it, a PodDisruptionBudget when it has replicas to spare, and the client TLS Secret when endpoints use mTLS.
 */
export class Querier extends pulumi.ComponentResource {
  readonly deployment: k8s.apps.v1.Deployment;
  readonly service: k8s.core.v1.Service;
  /** The container's command line, as rendered for the configured Thanos version. */
  readonly args: pulumi.Output<string[]>;
  /** Exactly the endpoints the querier dials. */
  readonly stores: pulumi.Output<string[]>;
  /** In-cluster URL of the query API and UI. */
  readonly httpUrl: pulumi.Output<string>;
  readonly metricsTarget: pulumi.Output<MetricsTarget>;

  constructor(name: string, args: QuerierArgs, opts?: pulumi.ComponentResourceOptions) {
    super("thanos-global-view:kubernetes:Querier", name, {}, opts);
    const labels = thanosLabels("thanos-query", args.querierName, "query-layer");
    const metadata = { name: args.querierName, namespace: args.namespace, labels };

    const tlsSecret = args.tls
      ? new k8s.core.v1.Secret(
          `${name}-tls`,
          {
            metadata: { ...metadata, name: `${args.querierName}-tls` },
            type: "Opaque",
            stringData: { "ca.crt": args.tls.caCert, "tls.crt": args.tls.cert, "tls.key": args.tls.key },
          },
          { parent: this, additionalSecretOutputs: ["data", "stringData"] },
        )
      : undefined;
    const clientTls: QuerierClientTls | undefined = args.tls && {
      certFile: `${TLS_MOUNT_PATH}/tls.crt`,
      keyFile: `${TLS_MOUNT_PATH}/tls.key`,
      caFile: `${TLS_MOUNT_PATH}/ca.crt`,
      serverName: args.tls.serverName,
    };

    this.stores = pulumi.output(args.endpoints).apply((endpoints) => endpoints.map((endpoint) => endpoint.address));
    this.args = pulumi.output(args.endpoints).apply((endpoints) =>
      querierArgs({
        version: args.version,
        logLevel: args.logLevel,
        grpcAddress: `0.0.0.0:${QUERIER_GRPC_PORT}`,
        httpAddress: `0.0.0.0:${QUERIER_HTTP_PORT}`,
        replicaLabels: args.replicaLabels,
        infoTimeout: args.infoTimeout,
        endpoints,
        clientTls,
      }),
    );

    // The kubernetes provider waits for a rollout 10 minutes unless its resource options say otherwise; a
    // Deployment whose pods never get Ready then fails `pulumi up` after readyTimeoutSeconds, naming why.
    const rolloutTimeouts = { customTimeouts: { create: `${args.readyTimeoutSeconds}s`, update: `${args.readyTimeoutSeconds}s` } };
    this.deployment = new k8s.apps.v1.Deployment(
      name,
      {
        metadata,
        spec: thanosDeploymentSpec({
          replicas: args.replicas,
          podLabels: labels,
          pod: {
            containerName: "thanos-query",
            image: thanosImage(args.version, args.image),
            args: this.args,
            ports: [
              { name: "grpc", containerPort: QUERIER_GRPC_PORT },
              { name: HTTP_PORT_NAME, containerPort: QUERIER_HTTP_PORT },
            ],
            resources: args.resources,
            volumeMounts: tlsSecret ? [{ name: "tls", mountPath: TLS_MOUNT_PATH, readOnly: true }] : [],
            volumes: tlsSecret ? [{ name: "tls", secret: { secretName: tlsSecret.metadata.name, defaultMode: 0o440 } }] : [],
          },
        }),
      },
      { parent: this, ...rolloutTimeouts },
    );

    this.service = new k8s.core.v1.Service(
      name,
      {
        metadata,
        spec: {
          selector: labels,
          ports: [
            { name: "grpc", port: QUERIER_GRPC_PORT, targetPort: "grpc" },
            { name: HTTP_PORT_NAME, port: QUERIER_HTTP_PORT, targetPort: HTTP_PORT_NAME },
          ],
        },
      },
      // The provider waits until the Service has a Ready pod behind it: the same bound.
      { parent: this, ...rolloutTimeouts },
    );

    const disruptionBudget = podDisruptionBudgetSpec(args.replicas, labels);
    if (disruptionBudget) new k8s.policy.v1.PodDisruptionBudget(name, { metadata, spec: disruptionBudget }, { parent: this });

    this.httpUrl = pulumi.interpolate`http://${this.service.metadata.name}.${this.service.metadata.namespace}.svc.${args.clusterDomain}:${QUERIER_HTTP_PORT}`;
    this.metricsTarget = serviceMetricsTarget("querier", this.service, labels, HTTP_PORT_NAME);
    this.registerOutputs({ args: this.args, stores: this.stores, httpUrl: this.httpUrl, metricsTarget: this.metricsTarget });
  }
}
