/**
 * `npm run bench`: how long the program takes to evaluate under mocks — what `pulumi preview` spends in our code,
 * from loading index.ts to the last resource registered — for 1, 10 and 100 VMs, median of several fresh processes,
 * with every optional Kubernetes component on (store gateway, compactor, query frontend, monitoring).
 */
import { evaluateOnce, median } from "./programs";

const RUNS = 7;
const SIZES = [1, 10, 100];

for (const count of SIZES) {
  const runs = Array.from({ length: RUNS }, () => evaluateOnce(count));
  const times = runs.map((run) => run.milliseconds);
  console.log(
    `${String(count).padStart(3)} VMs: median ${median(times).toFixed(0)} ms over ${RUNS} runs ` +
      `(min ${Math.min(...times).toFixed(0)}, max ${Math.max(...times).toFixed(0)}), ${runs[0].resources} resources`,
  );
}
