/**
 * The bench's stack configurations (the reference setup with N VMs and every optional Kubernetes component on) and
 * one evaluation of the program under mocks.
 */
import { execFileSync } from "node:child_process";
import { referenceConfig, REFERENCE_SECRET_KEYS, withAllComponents } from "../harness/configs";

/** The reference config with every component and `count` VMs at 10.0.x.y (a preview never dials them). */
export function configWithVms(count: number): Record<string, unknown> {
  const config = withAllComponents(referenceConfig());
  const [template] = config.vms as Record<string, unknown>[];
  config.vms = Array.from({ length: count }, (_, index) => ({
    ...template,
    name: `prom-vm-${index}`,
    host: `10.0.${Math.floor(index / 250)}.${(index % 250) + 1}`,
  }));
  return config;
}

/** One evaluation in a fresh node process, so module loading is counted as it is in a real preview. */
export function evaluateOnce(count: number): { milliseconds: number; resources: number } {
  const output = execFileSync(process.execPath, ["--import", "tsx", require.resolve("./evaluateOnce")], {
    env: { ...process.env, BENCH_CONFIG: JSON.stringify(configWithVms(count)), BENCH_SECRET_KEYS: JSON.stringify(REFERENCE_SECRET_KEYS) },
    encoding: "utf8",
  });
  return JSON.parse(output.trim().split("\n").pop()!) as { milliseconds: number; resources: number };
}

export const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
