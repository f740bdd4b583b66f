import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { prometheusRuleGroups, serviceMonitorSpec, type MetricsTarget, type MonitoredComponent } from "../lib/monitoring";
import { PART_OF_LABEL, PROJECT } from "../lib/project";

const MONITORING_API_VERSION = "monitoring.coreos.com/v1";

export interface MonitoringArgs {
  /** Where the PrometheusRule goes; each ServiceMonitor goes to its Service's namespace. */
  namespace: pulumi.Input<string>;
  /** The metrics target each monitored component reports. */
  targets: Partial<Record<MonitoredComponent, pulumi.Input<MetricsTarget>>>;
  /** Scrape interval, e.g. 30s. */
  interval: string;
  /** Added to every object: what prometheus-operator's serviceMonitorSelector and ruleSelector match. */
  labels: Record<string, string>;
}

/**
 * For a cluster that runs prometheus-operator: a ServiceMonitor per component's Service and one PrometheusRule with
 * the alerts on them (compactor halted or running twice, a component down, sidecar uploads failing).
 */
export class Monitoring extends pulumi.ComponentResource {
  readonly prometheusRule: k8s.apiextensions.CustomResource;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("thanos-global-view:kubernetes:Monitoring", name, {}, opts);
    const labels = { ...args.labels, ...PART_OF_LABEL };
    const targets = Object.entries(args.targets)
      .filter((entry): entry is [string, pulumi.Input<MetricsTarget>] => entry[1] !== undefined)
      .map(([component, target]) => ({ component, target: pulumi.output(target) }));

    for (const { component, target } of targets) {
      new k8s.apiextensions.CustomResource(
        `${name}-${component}`,
        {
          apiVersion: MONITORING_API_VERSION,
          kind: "ServiceMonitor",
          metadata: { name: target.serviceName, namespace: target.namespace, labels },
          spec: target.apply((resolved) => serviceMonitorSpec(resolved, args.interval)),
        },
        { parent: this },
      );
    }

    this.prometheusRule = new k8s.apiextensions.CustomResource(
      name,
      {
        apiVersion: MONITORING_API_VERSION,
        kind: "PrometheusRule",
        metadata: { name: PROJECT, namespace: args.namespace, labels },
        spec: { groups: pulumi.all(targets.map(({ target }) => target)).apply(prometheusRuleGroups) },
      },
      { parent: this },
    );
    this.registerOutputs({ prometheusRule: this.prometheusRule });
  }
}
