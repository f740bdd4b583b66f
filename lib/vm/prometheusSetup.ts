/**
 * The values of the opt-in Prometheus setup (configurePrometheus), which scripts/prometheus-setup.sh applies to a
 * Debian/Ubuntu packaged Prometheus: block durations in /etc/default/prometheus, external labels in prometheus.yml.
 */
import type { VmConfig } from "../config";
import { PAYLOAD_MAGIC } from "./payload";
import { LOCK_PATH, WORK_ROOT } from "./paths";
import { CONTROL_CHARACTERS, type ScriptValues } from "./shell";

type PrometheusSetup = NonNullable<VmConfig["configurePrometheus"]>;

const PROMETHEUS_DEFAULTS_FILE = "/etc/default/prometheus";
const PROMETHEUS_CONFIG_FILE = "/etc/prometheus/prometheus.yml";
const PROMETHEUS_UNIT = "prometheus.service";
/** WAL replay after a restart can take minutes on a big TSDB. */
const MIN_PROMETHEUS_READY_SECONDS = 300;

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;

function assertSetup(setup: PrometheusSetup): void {
  if (!DURATION.test(setup.blockDuration)) throw new Error(`blockDuration "${setup.blockDuration}" is not a duration such as 2h`);
  const names = Object.keys(setup.externalLabels);
  if (names.length === 0) throw new Error("configurePrometheus needs at least one external label");
  for (const [name, value] of Object.entries(setup.externalLabels)) {
    if (!LABEL_NAME.test(name)) throw new Error(`external label name "${name}" is not a Prometheus label name`);
    // The script compares labels already in prometheus.yml as plain or simply quoted YAML scalars.
    if (value === "" || CONTROL_CHARACTERS.test(value) || /["\\]/.test(value)) {
      throw new Error(`external label ${name}: configurePrometheus sets one-line, non-empty values without " or \\; set this one by hand`);
    }
  }
}

/** The labels a setup sets, as one flow-style YAML map for messages: {cluster: "prom_vm"}. */
function wantedLabels(setup: PrometheusSetup): string {
  return `{${Object.entries(setup.externalLabels).map(([name, value]) => `${name}: ${JSON.stringify(value)}`).join(", ")}}`;
}

/** The values of a VM's Prometheus setup script, as scripts/values/prometheus-setup.sh declares them. */
export function prometheusSetupValues(vm: Pick<VmConfig, "name" | "prometheusUrl" | "readyTimeoutSeconds">, setup: PrometheusSetup): ScriptValues {
  assertSetup(setup);
  const labels = Object.entries(setup.externalLabels);
  return {
    VM_NAME: vm.name,
    PROMETHEUS_URL: vm.prometheusUrl,
    PROMETHEUS_UNIT,
    DEFAULTS_FILE: PROMETHEUS_DEFAULTS_FILE,
    PROMETHEUS_CONFIG: PROMETHEUS_CONFIG_FILE,
    LOCK_PATH,
    BLOCK_DURATION: setup.blockDuration,
    LABEL_NAMES: labels.map(([name]) => name),
    LABEL_VALUES: labels.map(([, value]) => value),
    // JSON strings are valid YAML double-quoted scalars.
    LABEL_YAML: labels.map(([, value]) => JSON.stringify(value)),
    WANTED_LABELS: wantedLabels(setup),
    READY_TIMEOUT_SECONDS: Math.max(vm.readyTimeoutSeconds, MIN_PROMETHEUS_READY_SECONDS),
    WORK_ROOT,
    PAYLOAD_MAGIC,
  };
}

/**
 * The values of a VM's external-labels script, as scripts/values/external-labels.sh declares them. The labels
 * configurePrometheus sets are among them, so that the read runs again when the setup changes them.
 */
export function externalLabelsValues(vm: Pick<VmConfig, "name" | "prometheusUrl" | "configurePrometheus">): ScriptValues {
  const configured = vm.configurePrometheus ? wantedLabels(vm.configurePrometheus) : "";
  return { VM_NAME: vm.name, PROMETHEUS_URL: vm.prometheusUrl, CONFIGURED_LABELS: configured, WORK_ROOT, PAYLOAD_MAGIC };
}
