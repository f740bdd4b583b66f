import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { serviceMetricsTarget, type MetricsTarget } from "../lib/monitoring";
import { HTTP_PORT_NAME, podDisruptionBudgetSpec, thanosDeploymentSpec, thanosImage, type Resources } from "../lib/pod";
import { thanosLabels } from "../lib/project";
import { queryFrontendArgs, type ResponseCache } from "../lib/queryFrontend";
import type { ThanosVersion } from "../lib/thanosVersion";

/** Prometheus' port, as kube-thanos gives the query frontend: it is what Grafana points at. */
const QUERY_FRONTEND_HTTP_PORT = 9090;

export interface QueryFrontendArgs {
  /** Name of the Deployment, Service and PodDisruptionBudget. */
  frontendName: string;
  namespace: pulumi.Input<string>;
  version: ThanosVersion;
  /** Defaults to the upstream image of `version`. */
  image?: string;
  /** More than 1 adds a PodDisruptionBudget (maxUnavailable 1); each replica has its own cache. */
  replicas: number;
  /** The querier's HTTP URL (the Querier component's httpUrl). */
  downstreamUrl: pulumi.Input<string>;
  /** Milliseconds: range queries are split into parts of this length. */
  splitInterval: number;
  /** The in-memory response cache. */
  cache: ResponseCache;
  resources: Resources;
  logLevel: string;
  clusterDomain: string;
}

/**
 * The query frontend: a Deployment and Service in front of the querier that split range queries by splitInterval,
 * run the parts in parallel and answer repeats from an in-memory response cache.
 */
export class QueryFrontend extends pulumi.ComponentResource {
  readonly deployment: k8s.apps.v1.Deployment;
  readonly service: k8s.core.v1.Service;
  readonly args: pulumi.Output<string[]>;
  /** In-cluster URL of the query API (Prometheus-compatible). */
  readonly url: pulumi.Output<string>;
  readonly metricsTarget: pulumi.Output<MetricsTarget>;

  constructor(name: string, args: QueryFrontendArgs, opts?: pulumi.ComponentResourceOptions) {
    super("thanos-global-view:kubernetes:QueryFrontend", name, {}, opts);
    const labels = thanosLabels("thanos-query-frontend", args.frontendName, "query-cache");
    const metadata = { name: args.frontendName, namespace: args.namespace, labels };

    this.args = pulumi.output(args.downstreamUrl).apply((downstreamUrl) =>
      queryFrontendArgs({
        logLevel: args.logLevel,
        httpAddress: `0.0.0.0:${QUERY_FRONTEND_HTTP_PORT}`,
        downstreamUrl,
        splitInterval: args.splitInterval,
        cache: args.cache,
      }),
    );
    this.deployment = new k8s.apps.v1.Deployment(
      name,
      {
        metadata,
        spec: thanosDeploymentSpec({
          replicas: args.replicas,
          podLabels: labels,
          pod: {
            containerName: "thanos-query-frontend",
            image: thanosImage(args.version, args.image),
            args: this.args,
            ports: [{ name: HTTP_PORT_NAME, containerPort: QUERY_FRONTEND_HTTP_PORT }],
            resources: args.resources,
          },
        }),
      },
      { parent: this },
    );

    this.service = new k8s.core.v1.Service(
      name,
      { metadata, spec: { selector: labels, ports: [{ name: HTTP_PORT_NAME, port: QUERY_FRONTEND_HTTP_PORT, targetPort: HTTP_PORT_NAME }] } },
      { parent: this },
    );

    const disruptionBudget = podDisruptionBudgetSpec(args.replicas, labels);
    if (disruptionBudget) new k8s.policy.v1.PodDisruptionBudget(name, { metadata, spec: disruptionBudget }, { parent: this });

    this.url = pulumi.interpolate`http://${this.service.metadata.name}.${this.service.metadata.namespace}.svc.${args.clusterDomain}:${QUERY_FRONTEND_HTTP_PORT}`;
    this.metricsTarget = serviceMetricsTarget("queryFrontend", this.service, labels, HTTP_PORT_NAME);
    this.registerOutputs({ args: this.args, url: this.url, metricsTarget: this.metricsTarget });
  }
}
