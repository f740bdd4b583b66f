import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PART_OF_LABEL } from "../lib/project";
import type { QuerierEndpoint } from "../lib/endpoints";
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
  resources: { requests: Record<string, string | undefined>; limits: Record<string, string | undefined> };
  /** How long a create or update waits for the rollout (replicas updated and Ready, the Service's endpoints). */
  readyTimeoutSeconds: number;
  tls?: QuerierTlsArgs;
  clusterDomain: string;
}

/** Kubernetes drops undefined keys anyway; dropping them here keeps previews and rendered manifests clean. */
const defined = (values: Record<string, string | undefined>) =>
  Object.fromEntries(Object.entries(values).filter((entry): entry is [string, string] => entry[1] !== undefined));

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

  constructor(name: string, args: QuerierArgs, opts?: pulumi.ComponentResourceOptions) {
    super("thanos-global-view:kubernetes:Querier", name, {}, opts);
    const labels = {
      "app.kubernetes.io/name": "thanos-query",
      "app.kubernetes.io/instance": args.querierName,
      "app.kubernetes.io/component": "query-layer",
      ...PART_OF_LABEL,
    };
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
    const probe = (path: string) => ({
      httpGet: { path, port: "http" },
      periodSeconds: 5,
      timeoutSeconds: 3,
      failureThreshold: path === "/-/ready" ? 20 : 4,
    });
    this.deployment = new k8s.apps.v1.Deployment(
      name,
      {
        metadata,
        spec: {
          replicas: args.replicas,
          // A new ReplicaSet's pods join before an old pod leaves: while they cannot get Ready (a wrong image, a
          // crashing flag), the running pods keep answering queries.
          strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              securityContext: {
                runAsNonRoot: true,
                runAsUser: 65534,
                runAsGroup: 65534,
                fsGroup: 65534,
                seccompProfile: { type: "RuntimeDefault" },
              },
              affinity: {
                podAntiAffinity: {
                  preferredDuringSchedulingIgnoredDuringExecution: [
                    {
                      weight: 100,
                      podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: labels } },
                    },
                  ],
                },
              },
              containers: [
                {
                  name: "thanos-query",
                  image: args.image ?? `quay.io/thanos/thanos:v${args.version.text}`,
                  args: this.args,
                  ports: [
                    { name: "grpc", containerPort: QUERIER_GRPC_PORT },
                    { name: "http", containerPort: QUERIER_HTTP_PORT },
                  ],
                  livenessProbe: probe("/-/healthy"),
                  readinessProbe: probe("/-/ready"),
                  resources: { requests: defined(args.resources.requests), limits: defined(args.resources.limits) },
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    capabilities: { drop: ["ALL"] },
                  },
                  volumeMounts: tlsSecret ? [{ name: "tls", mountPath: TLS_MOUNT_PATH, readOnly: true }] : [],
                },
              ],
              volumes: tlsSecret
                ? [{ name: "tls", secret: { secretName: tlsSecret.metadata.name, defaultMode: 0o440 } }]
                : [],
            },
          },
        },
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
            { name: "http", port: QUERIER_HTTP_PORT, targetPort: "http" },
          ],
        },
      },
      // The provider waits until the Service has a Ready pod behind it: the same bound.
      { parent: this, ...rolloutTimeouts },
    );

    if (args.replicas > 1) {
      new k8s.policy.v1.PodDisruptionBudget(
        name,
        { metadata, spec: { maxUnavailable: 1, selector: { matchLabels: labels } } },
        { parent: this },
      );
    }

    this.httpUrl = pulumi.interpolate`http://${this.service.metadata.name}.${this.service.metadata.namespace}.svc.${args.clusterDomain}:${QUERIER_HTTP_PORT}`;
    this.registerOutputs({ args: this.args, stores: this.stores, httpUrl: this.httpUrl });
  }
}
