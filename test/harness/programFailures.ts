/**
 * Child process for tests of a program that fails during the deployment, as `pulumi up` sees it: an error thrown
 * inside an Output, or a failed registration, surfaces as an unhandled rejection, which the test runner would count
 * against the test itself.
 * Runs index.ts under the mocks with PROGRAM_CONFIG, PROGRAM_SECRET_KEYS and PROGRAM_LABELS (the external labels
 * each VM reports), and prints one JSON line: the rejections' messages and the names of the resources registered.
 */
import { recorded, runProgram, vmExternalLabels } from "./mocks";

async function main(): Promise<void> {
  const failures: string[] = [];
  process.on("unhandledRejection", (error) => failures.push(error instanceof Error ? error.message : String(error)));
  for (const [vm, labels] of Object.entries(JSON.parse(process.env.PROGRAM_LABELS ?? "{}") as Record<string, Record<string, string>>)) {
    vmExternalLabels.set(vm, labels);
  }
  await runProgram(JSON.parse(process.env.PROGRAM_CONFIG!) as Record<string, unknown>, JSON.parse(process.env.PROGRAM_SECRET_KEYS!) as string[]);
  console.log(JSON.stringify({ failures, registered: recorded.map((resource) => resource.name) }));
  // The runtime then reports the registrations the failure left waiting, and exits non-zero: as `pulumi up` would.
}

void main();
