/**
 * The `pulumi up` half of bench:engine: 1 and 6 real VMs (systemd-nspawn, one cached root filesystem, each on its own
 * 127.0.1.x address, all authorizing the stack's one SSH key), a Thanos release mirror and MinIO on loopback. For
 * each fleet: the first install, a version change with every sidecar's /-/ready polled every 100 ms (the unready
 * window: its longest outage, from its first failed poll to the next answer), the state in `pulumi stack export`, and the checkpoint
 * writes of each up (the backend's stack file, watched: how often it is rewritten and how many bytes that is).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { minioBinary, startMinio } from "../sandbox/minio";
import { startThanosMirror } from "../sandbox/mirror";
import { watchOutages } from "../sandbox/ports";
import type { ProcessRegistry } from "../sandbox/process";
import { PulumiStack } from "../sandbox/stack";
import { thanosReleaseDir } from "../sandbox/thanos";
import { Vm } from "../sandbox/vm";
import { median } from "./programs";

const FIRST_VERSION = "0.42.4";
const NEXT_VERSION = "0.34.1";
const BUCKET = "thanos";
/** 127.0.1.10 for the single VM, 127.0.1.11-16 for the six: none of the other suites' addresses. */
const SINGLE = ["127.0.1.10"];
const SIX = ["127.0.1.11", "127.0.1.12", "127.0.1.13", "127.0.1.14", "127.0.1.15", "127.0.1.16"];

export interface FleetUpOptions {
  env: NodeJS.ProcessEnv;
  runDir: string;
  /** The stack's SSH key (with .pub beside it), authorized on every VM. */
  keyFile: string;
  registry: ProcessRegistry;
  /** Another project directory (e.g. an older checkout) to run instead of this one; the same config. */
  projectDir?: string;
}

/** Counts rewrites of a file (by name, in its directory) and the bytes each left there, while running. */
function watchWrites(file: string): { stop(): { writes: number; bytes: number } } {
  let writes = 0;
  let bytes = 0;
  let last = -1;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const watcher = fs.watch(path.dirname(file), (_event, name) => {
    if (name !== path.basename(file)) return;
    try {
      const stat = fs.statSync(file);
      // One rewrite may raise several events; a new one changes the modification time.
      if (stat.mtimeMs === last) return;
      last = stat.mtimeMs;
      writes += 1;
      bytes += stat.size;
    } catch {
      // Between the removal and the rename of an atomic write.
    }
  });
  return {
    stop() {
      watcher.close();
      return { writes, bytes };
    },
  };
}


const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

interface FleetFigures {
  vms: number;
  resources: number;
  firstUpMs: number;
  changeUpMs: number;
  stateBytes: number;
  firstWrites: { writes: number; bytes: number };
  changeWrites: { writes: number; bytes: number };
  unreadyMs: number[];
}

export async function runFleetUps(options: FleetUpOptions): Promise<FleetFigures[]> {
  const { env, runDir, registry } = options;
  const releases = await Promise.all([FIRST_VERSION, NEXT_VERSION].map(async (version) => ({ version, dir: await thanosReleaseDir(version) })));
  const mirror = await startThanosMirror({ releases, registry });
  const minio = await startMinio({ binary: await minioBinary(), runDir, registry });
  await minio.createBucket(BUCKET);
  const boot = (address: string) =>
    Vm.start({ address, clientKeyFile: options.keyFile, prometheus: { externalLabels: { cluster: `bench-${address}` }, scrapeInterval: "5s" } }).then((vm) => {
      registry.defer(`VM ${vm.name}`, () => vm.stop());
      return vm;
    });
  const bootStarted = Date.now();
  const vms = await Promise.all([...SINGLE, ...SIX].map(boot));
  console.log(`\n2. pulumi up with real VMs (${vms.length} booted in ${((Date.now() - bootStarted) / 1000).toFixed(1)} s)`);

  const figures: FleetFigures[] = [];
  for (const fleet of [vms.slice(0, 1), vms.slice(1)]) {
    const stack = new PulumiStack({
      dir: path.join(runDir, `up-${fleet.length}`),
      env,
      stack: `up${fleet.length}`,
      ...(options.projectDir && { projectDir: options.projectDir }),
    });
    await stack.init();
    await stack.setAllConfig(
      {
        thanosVersion: FIRST_VERSION,
        thanosDownload: { urlTemplate: mirror.urlTemplate, sha256sumsUrlTemplate: mirror.sha256sumsUrlTemplate },
        kubernetes: { renderYamlToDirectory: path.join(stack.dir, "rendered") },
        vms: fleet.map((vm, index) => vm.stackEntry(`bench-vm-${index}`)),
        objstore: { bucket: BUCKET, endpoint: minio.endpoint, insecure: true, accessKey: minio.accessKey },
      },
      { sshPrivateKey: fs.readFileSync(options.keyFile, "utf8"), objstoreSecretKey: minio.secretKey },
    );
    const stackFile = path.join(stack.backendDir, ".pulumi", "stacks", "thanos-global-view", `up${fleet.length}.json`);
    let writes = watchWrites(stackFile);
    const first = await stack.up();
    const firstWrites = writes.stop();
    const exported = await stack.exportState();
    const resources = (JSON.parse(exported) as { deployment: { resources: unknown[] } }).deployment.resources.length;

    await stack.setConfig({ thanosVersion: NEXT_VERSION });
    const readiness = watchOutages(fleet.map((vm) => `http://${vm.address}:10902/-/ready`));
    writes = watchWrites(stackFile);
    const change = await stack.up();
    const changeWrites = writes.stop();
    const unreadyMs = (await readiness.stop()).map((outages) => Math.max(0, ...outages.map((outage) => outage.to - outage.from)));
    figures.push({
      vms: fleet.length,
      resources,
      firstUpMs: first.durationMs,
      changeUpMs: change.durationMs,
      stateBytes: Buffer.byteLength(exported),
      firstWrites,
      changeWrites,
      unreadyMs,
    });
  }

  const [one, six] = figures;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log("   VMs  first install  version change  state (stack export)  checkpoint writes first / change");
  for (const f of figures) {
    console.log(
      `   ${String(f.vms).padStart(3)}  ${s(f.firstUpMs).padStart(13)}  ${s(f.changeUpMs).padStart(14)}  ` +
        `${kb(f.stateBytes).padStart(20)}  ${f.firstWrites.writes} writes, ${mb(f.firstWrites.bytes)} / ${f.changeWrites.writes} writes, ${mb(f.changeWrites.bytes)}`,
    );
  }
  console.log(`   6 VMs / 1 VM: first install ${(six.firstUpMs / one.firstUpMs).toFixed(2)}x, version change ${(six.changeUpMs / one.changeUpMs).toFixed(2)}x`);
  const perVm = (six.stateBytes - one.stateBytes) / (six.vms - one.vms);
  console.log(`   state per VM: ${kb(perVm)} ((6-VM export - 1-VM export) / 5), ${(six.resources - one.resources) / 5} resources per VM`);
  const windows = figures.flatMap((f) => f.unreadyMs);
  console.log(
    `   sidecar unready during the version change: median ${(median(windows) / 1000).toFixed(2)} s over ${windows.length} sidecars ` +
      `(min ${(Math.min(...windows) / 1000).toFixed(2)}, max ${(Math.max(...windows) / 1000).toFixed(2)}; target <= 3 s)`,
  );
  // Each step rewrites the whole checkpoint, so an up's writes grow with the square of the fleet: per step about
  // the state so far. From the six-VM up: bytes per write and writes per VM, scaled to 100 VMs.
  const writesPerVm = (six.firstWrites.writes - one.firstWrites.writes) / 5;
  const steps = Math.round(one.firstWrites.writes + writesPerVm * 99);
  const fixed = one.stateBytes - perVm;
  const estimate = steps * (fixed + (perVm * 100) / 2);
  console.log(
    `   checkpoint writes of a 100-VM first install, from these: about ${steps} writes of the growing state ` +
      `(${kb(fixed)} + ${kb(perVm)} per VM installed so far), ${mb(estimate)} in all`,
  );
  return figures;
}
