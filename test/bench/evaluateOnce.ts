/** Child of evaluate.ts: runs index.ts under the mocks harness and prints the time to the last resource registration. */
import { performance } from "node:perf_hooks";
import { recorded, runProgram } from "../harness/mocks";

async function main(): Promise<void> {
  const config = JSON.parse(process.env.BENCH_CONFIG!) as Record<string, unknown>;
  const secretKeys = JSON.parse(process.env.BENCH_SECRET_KEYS!) as string[];
  const start = performance.now();
  await runProgram(config, secretKeys, { stack: "bench", preview: true });
  const lastRegistration = Math.max(...recorded.map((resource) => resource.registeredAt));
  console.log(JSON.stringify({ milliseconds: lastRegistration - start, resources: recorded.length }));
}

void main();
