/**
 * What prometheus-operator needs to watch the stack, as plain functions of typed input: a ServiceMonitor per
 * component's Service and the alerting rules of a PrometheusRule. prometheus-operator names a ServiceMonitor's
 * `job` label after the Service and adds the target's `namespace`, so every rule selects exactly one component by
 * those two labels.
 */
import * as pulumi from "@pulumi/pulumi";

export type MonitoredComponent = "querier" | "sidecar" | "storeGateway" | "compactor" | "queryFrontend";

/** A component's metrics as it reports them: the Service in front of its pods and the port serving /metrics. */
export interface MetricsTarget {
  component: MonitoredComponent;
  serviceName: string;
  namespace: string;
  /** The Service's labels; the ServiceMonitor selects the Service by them. */
  serviceLabels: Record<string, string>;
  /** The Service port (by name) that serves /metrics. */
  port: string;
}

/** The metrics target of a component whose Service (of these labels) serves /metrics on `port`. */
export function serviceMetricsTarget(
  component: MonitoredComponent,
  service: { metadata: pulumi.Output<{ name?: string; namespace?: string }> },
  serviceLabels: Record<string, string>,
  port: string,
): pulumi.Output<MetricsTarget> {
  return service.metadata.apply((metadata) => ({ component, serviceName: metadata.name!, namespace: metadata.namespace!, serviceLabels, port }));
}

export interface ServiceMonitorSpec {
  selector: { matchLabels: Record<string, string> };
  namespaceSelector: { matchNames: string[] };
  endpoints: { port: string; path: string; interval: string }[];
}

export function serviceMonitorSpec(target: MetricsTarget, interval: string): ServiceMonitorSpec {
  return {
    selector: { matchLabels: target.serviceLabels },
    namespaceSelector: { matchNames: [target.namespace] },
    endpoints: [{ port: target.port, path: "/metrics", interval }],
  };
}

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: "warning" | "critical" };
  annotations: { summary: string; description: string };
}

/** Each component's alert-name part and its name in prose. */
const NAMES: Record<MonitoredComponent, [string, string]> = {
  querier: ["Querier", "querier"],
  sidecar: ["Sidecar", "sidecar"],
  storeGateway: ["StoreGateway", "store gateway"],
  compactor: ["Compactor", "compactor"],
  queryFrontend: ["QueryFrontend", "query frontend"],
};

/** The PromQL selector of one component's series. Service and namespace names are DNS labels: nothing to escape. */
const selectorOf = (target: MetricsTarget) => `{job="${target.serviceName}", namespace="${target.namespace}"}`;

function rulesFor(target: MetricsTarget): AlertRule[] {
  const selector = selectorOf(target);
  const where = `${target.namespace}/${target.serviceName}`;
  const [alertName, prose] = NAMES[target.component];
  const down: AlertRule = {
    alert: `Thanos${alertName}Down`,
    expr: `up${selector} == 0`,
    for: "5m",
    labels: { severity: target.component === "queryFrontend" || target.component === "querier" ? "critical" : "warning" },
    annotations: {
      summary: `A Thanos ${prose} is down`,
      description: `{{ $labels.instance }} of ${where} has not answered its scrapes for 5 minutes.`,
    },
  };
  switch (target.component) {
    case "compactor":
      return [
        down,
        {
          alert: "ThanosCompactHalted",
          expr: `max by (namespace, job) (thanos_compact_halted${selector}) == 1`,
          for: "5m",
          labels: { severity: "critical" },
          annotations: {
            summary: "The Thanos compactor has halted",
            description: `${where} hit a critical error (e.g. overlapping blocks) and stopped compacting, downsampling and applying retention; its log says "critical error detected; halting".`,
          },
        },
        {
          alert: "ThanosCompactMultipleRunning",
          expr: `sum by (namespace, job) (up${selector}) > 1`,
          for: "5m",
          labels: { severity: "critical" },
          annotations: {
            summary: "More than one Thanos compactor runs on one bucket",
            description: `{{ $value }} compactors of ${where} are up; two compactors on one bucket corrupt it.`,
          },
        },
      ];
    case "sidecar":
      return [
        down,
        {
          alert: "ThanosSidecarUploadsFailing",
          expr: `sum by (namespace, job, instance) (rate(thanos_shipper_upload_failures_total${selector}[5m])) > 0`,
          for: "5m",
          labels: { severity: "critical" },
          annotations: {
            summary: "A Thanos sidecar fails to upload blocks",
            description: `{{ $labels.instance }} of ${where} failed block uploads for 5 minutes; history is not reaching the bucket.`,
          },
        },
      ];
    default:
      return [down];
  }
}

/** The alerting rules for the monitored components, in one group. */
export function prometheusRuleGroups(targets: readonly MetricsTarget[]): { name: string; rules: AlertRule[] }[] {
  return [{ name: "thanos-global-view", rules: targets.flatMap(rulesFor) }];
}
