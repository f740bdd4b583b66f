/**
 * `npm run bench:engine`: the real Pulumi engine (test/build/toolchain's CLI and plugins, a file backend of its own,
 * offline) on the stack, with figures printed, not asserted:
 *   1. `pulumi preview` for 1, 10 and 100 VMs (no SSH: a preview dials nothing; the kubernetes side renders YAML),
 *      beside the program's own evaluation under mocks, in one run: the engine's share per resource.
 *   2. `pulumi up` for 1 and for 6 real VMs (systemd-nspawn from the one cached root filesystem, each on its own
 *      127.0.1.x address): the first install and a Thanos version change; the sidecars' unready window during the
 *      change; the state each VM adds in `pulumi stack export`; the checkpoint writes of each up.
 * Needs root; a cold cache builds the toolchain, Thanos, MinIO and the VM image first. Everything it starts is
 * stopped at the end, also when a step fails. `--no-preview` / `--no-up` skip a half; `--project <dir>` runs another
 * checkout of the project (e.g. an older commit, for before and after) with the same configurations.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { runCommand } from "../harness/command";
import { createRunDir, ProcessRegistry } from "../sandbox/process";
import { PulumiStack, toolchainEnv } from "../sandbox/stack";
import { configWithVms, evaluateOnce, median } from "./programs";
import { runFleetUps } from "./fleetUp";

const PREVIEW_SIZES = [1, 10, 100];
const PREVIEW_ROUNDS = 5;

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** Previews each size PREVIEW_ROUNDS times, interleaved (so load from other work spreads evenly); medians. */
async function previews(env: NodeJS.ProcessEnv, runDir: string, sshPrivateKey: string, projectDir?: string): Promise<void> {
  const stacks = new Map<number, PulumiStack>();
  for (const count of PREVIEW_SIZES) {
    const stack = new PulumiStack({ dir: path.join(runDir, `preview-${count}`), env, stack: `preview${count}`, ...(projectDir && { projectDir }) });
    await stack.init();
    const config = configWithVms(count);
    config.kubernetes = { ...(config.kubernetes as object), renderYamlToDirectory: path.join(stack.dir, "rendered") };
    await stack.setAllConfig(config, { sshPrivateKey, objstoreSecretKey: String(config.objstoreSecretKey) });
    stacks.set(count, stack);
  }
  // The same 100-VM preview with PULUMI_SKIP_CHECKPOINTS: the engine's snapshot manager then skips rebuilding (and,
  // in a preview, discarding) the whole snapshot after each step, which otherwise grows with the square of the fleet.
  const unchecked = new PulumiStack({
    dir: path.join(runDir, "preview-100-skip-checkpoints"),
    env: { ...env, PULUMI_SKIP_CHECKPOINTS: "true" },
    stack: "preview100skip",
    ...(projectDir && { projectDir }),
  });
  await unchecked.init();
  const hundred = configWithVms(100);
  hundred.kubernetes = { ...(hundred.kubernetes as object), renderYamlToDirectory: path.join(unchecked.dir, "rendered") };
  await unchecked.setAllConfig(hundred, { sshPrivateKey, objstoreSecretKey: String(hundred.objstoreSecretKey) });
  await unchecked.preview();
  const skipped: number[] = [];
  const real = new Map<number, number[]>(PREVIEW_SIZES.map((count) => [count, []]));
  const mocked = new Map<number, number[]>(PREVIEW_SIZES.map((count) => [count, []]));
  const resources = new Map<number, number>();
  // A first preview of each loads the plugins from disk: not counted.
  for (const count of PREVIEW_SIZES) await stacks.get(count)!.preview();
  for (let round = 0; round < PREVIEW_ROUNDS; round++) {
    for (const count of PREVIEW_SIZES) {
      const result = await stacks.get(count)!.preview();
      real.get(count)!.push(result.durationMs);
      const evaluation = evaluateOnce(count);
      mocked.get(count)!.push(evaluation.milliseconds);
      resources.set(count, evaluation.resources);
    }
    skipped.push((await unchecked.preview()).durationMs);
  }
  console.log(`\n1. pulumi preview, real engine vs the program under mocks (median of ${PREVIEW_ROUNDS}, interleaved, after a warm-up)`);
  if (projectDir) console.log("   (the mocks column and the resource counts are this checkout's program)");
  console.log("   VMs  resources  real preview  under mocks  engine (real - mocks)  per resource");
  for (const count of PREVIEW_SIZES) {
    const r = median(real.get(count)!);
    const m = median(mocked.get(count)!);
    const n = resources.get(count)!;
    console.log(
      `   ${String(count).padStart(3)}  ${String(n).padStart(9)}  ${seconds(r).padStart(12)}  ${seconds(m).padStart(11)}  ` +
        `${seconds(r - m).padStart(21)}  ${((r - m) / n).toFixed(1).padStart(9)} ms`,
    );
  }
  const one = median(real.get(1)!);
  const hundredMs = median(real.get(100)!);
  const added = resources.get(100)! - resources.get(1)!;
  console.log(`   100 VMs / 1 VM: ${(hundredMs / one).toFixed(2)}x (target <= 1.25x)`);
  console.log(
    `   100 VMs with PULUMI_SKIP_CHECKPOINTS=true: ${seconds(median(skipped))}, so ${seconds(hundredMs - median(skipped))} of the 100-VM preview ` +
      "is the engine rebuilding the snapshot after each step",
  );
  console.log(
    `   each resource beyond the first VM's: ${((hundredMs - one) / added).toFixed(1)} ms real, ` +
      `${((median(mocked.get(100)!) - median(mocked.get(1)!)) / added).toFixed(1)} ms of it in the program under mocks`,
  );
}

async function main(): Promise<void> {
  const runDir = createRunDir("bench-engine");
  const registry = new ProcessRegistry();
  try {
    console.log(`bench:engine, run directory ${runDir}`);
    const env = await toolchainEnv();
    const keyFile = path.join(runDir, "id_ed25519");
    const keygen = await runCommand("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "thanos-global-view-bench", "-f", keyFile]);
    if (keygen.code !== 0) throw new Error(`ssh-keygen: ${keygen.stderr}`);
    const sshPrivateKey = fs.readFileSync(keyFile, "utf8");
    const project = process.argv.indexOf("--project");
    const projectDir = project < 0 ? undefined : path.resolve(process.argv[project + 1]);
    if (projectDir) console.log(`project: ${projectDir}`);
    if (!process.argv.includes("--no-preview")) await previews(env, runDir, sshPrivateKey, projectDir);
    if (!process.argv.includes("--no-up")) await runFleetUps({ env, runDir, keyFile, registry, projectDir });
  } finally {
    await registry.stopAll();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
