/**
 * `npm run bench`: how long the program takes to evaluate under mocks — what `pulumi preview` spends in our code,
 * from loading index.ts to the last resource registered — for 1, 10 and 100 VMs, median of several fresh processes,
 * with every optional Kubernetes component on (store gateway, compactor, query frontend, monitoring).
 */
import { execFileSync } from "node:child_process";
import { referenceConfig, REFERENCE_SECRET_KEYS, withAllComponents } from "../harness/configs";

const RUNS = 7;
const SIZES = [1, 10, 100];

function configWithVms(count: number): Record<string, unknown> {
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
function evaluateOnce(count: number): { milliseconds: number; resources: number } {
  const output = execFileSync(process.execPath, ["--import", "tsx", require.resolve("./evaluateOnce")], {
    env: { ...process.env, BENCH_CONFIG: JSON.stringify(configWithVms(count)), BENCH_SECRET_KEYS: JSON.stringify(REFERENCE_SECRET_KEYS) },
    encoding: "utf8",
  });
  return JSON.parse(output.trim().split("\n").pop()!) as { milliseconds: number; resources: number };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

for (const count of SIZES) {
  const runs = Array.from({ length: RUNS }, () => evaluateOnce(count));
  const times = runs.map((run) => run.milliseconds);
  console.log(
    `${String(count).padStart(3)} VMs: median ${median(times).toFixed(0)} ms over ${RUNS} runs ` +
      `(min ${Math.min(...times).toFixed(0)}, max ${Math.max(...times).toFixed(0)}), ${runs[0].resources} resources`,
  );
}
