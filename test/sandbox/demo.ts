// `make sandbox` / `make sandbox-down`: the main job against the local sandbox, left running for the user.
//
//   up      starts a detached keeper process, follows its log until the global view answers, prints the answer
//   down    asks the keeper to `pulumi destroy` and stop everything, follows its log until it has exited
//   keeper  (internal) owns the sandbox: boots the cluster (with prometheus-operator's HA Prometheus pair), the VM on
//           its network, MinIO and the release mirror, runs `pulumi up -s sandbox` against the cluster, asks a
//           querier pod for the global view, then waits for `down`
//
// The sandbox's processes belong to the process that started them (the VM dies with it, the cluster is undone when it
// stops or is interrupted), hence one long-lived keeper rather than a command that returns. A keeper killed outright
// leaves its cluster behind: `down`, or the next `up`, removes it. Its state, log and the stack's backend live in
// .sandbox/demo/ (git-ignored).
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT } from "../repo";
import { buildImages } from "./cluster";
import { staleStateFound, undoClusterHostState } from "./clusterHost";
import { ClusterQuerier } from "./clusterQuerier";
import { K8S_CLUSTER, REPLICA_LABEL } from "./globalView";
import { IN_CLUSTER_PROMETHEUS_IMAGES } from "./inClusterPrometheus";
import { kubernetesBinDir } from "./kubeApiserver";
import { minioBinary } from "./minio";
import { processesMentioning, sleep, waitFor } from "./process";
import { expectedQuerierStores, historyThroughFrontend, startSandboxStack, toolchainEnv, waitForQuerierStores, type SandboxStack } from "./stack";
import { committedThanosVersion } from "./stackConfig";
import { instantQuery, thanosReleaseDir, type Series } from "./thanos";
import { buildRootfs } from "./vm";

const stateDir = path.join(REPO_ROOT, ".sandbox", "demo");
const files = {
  pid: path.join(stateDir, "keeper.pid"),
  log: path.join(stateDir, "keeper.log"),
  /** One word: starting, ready, failed, stopping, stopped, destroy-failed. */
  status: path.join(stateDir, "status"),
  summary: path.join(stateDir, "summary.txt"),
  runDir: path.join(stateDir, "run"),
};
const QUERY = "up";
const UP_TIMEOUT_MS = 30 * 60_000;
const DOWN_TIMEOUT_MS = 10 * 60_000;

type Status = "starting" | "ready" | "failed" | "stopping" | "stopped" | "destroy-failed";

function readStatus(): Status | undefined {
  try {
    return fs.readFileSync(files.status, "utf8").trim() as Status;
  } catch {
    return undefined;
  }
}

function writeStatus(status: Status): void {
  fs.writeFileSync(files.status, `${status}\n`);
}

function keeperPid(): number | undefined {
  try {
    const pid = Number(fs.readFileSync(files.pid, "utf8").trim());
    // A pid file left by a keeper killed outright may name an unrelated process by now: check it is ours.
    return pid > 0 && fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("demo.ts") ? pid : undefined;
  } catch {
    return undefined;
  }
}


/**
 * Prints the keeper's log from `offset` as it grows, until `done()` holds or the time runs out; returns the offset
 * reached.
 */
async function followLog(offset: number, done: () => boolean, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const size = fs.existsSync(files.log) ? fs.statSync(files.log).size : 0;
    if (size > offset) {
      const fd = fs.openSync(files.log, "r");
      const chunk = Buffer.alloc(size - offset);
      fs.readSync(fd, chunk, 0, chunk.length, offset);
      fs.closeSync(fd);
      process.stdout.write(chunk);
      offset = size;
    }
    if (done()) return offset;
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs / 1000} s; the keeper's log is ${files.log}`);
    await sleep(500);
  }
}

/**
 * A keeper killed outright took the VM with it (and the sidecar, so there is nothing to destroy), but the host
 * processes it had started run in their own groups, and its cluster's changes to the machine stay: stops the
 * processes by pid and undoes the cluster. Whether nothing is left.
 */
async function stopLeftovers(): Promise<boolean> {
  const stale = staleStateFound();
  if (stale.length > 0) {
    console.log(`The keeper is gone; removing what its cluster left: ${stale.join("; ")}`);
    undoClusterHostState({ log: (line) => console.log(`  ${line}`), stale: true });
  }
  const leftovers = processesMentioning(files.runDir);
  if (leftovers.length === 0) return true;
  console.log(`Stopping the sandbox processes it left: ${leftovers.join(", ")}`);
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    for (const leftover of processesMentioning(files.runDir)) {
      try {
        process.kill(leftover, signal);
      } catch {
        // It exited meanwhile.
      }
    }
    await sleep(5_000);
  }
  const remaining = processesMentioning(files.runDir);
  if (remaining.length > 0) console.error(`Still running: ${remaining.join(", ")}`);
  return remaining.length === 0;
}

async function up(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error("make sandbox must run as root (systemd-nspawn, mounts)");
    return 1;
  }
  const running = keeperPid();
  if (running !== undefined && readStatus() === "ready") {
    console.log(`The sandbox is already running (keeper pid ${running}):\n`);
    process.stdout.write(fs.readFileSync(files.summary, "utf8"));
    return 0;
  }
  if (running !== undefined) {
    console.error(`A sandbox keeper (pid ${running}) is ${readStatus() ?? "in an unknown state"}; run make sandbox-down first.`);
    return 1;
  }
  if (!(await stopLeftovers())) return 1;
  // The builds run here, in the foreground, so a cold one shows its progress; the keeper then finds them cached and
  // inherits the toolchain's environment.
  await thanosReleaseDir(committedThanosVersion());
  await minioBinary();
  await buildRootfs();
  await kubernetesBinDir();
  await buildImages(["pause", "coredns", `thanos:${committedThanosVersion()}`, ...IN_CLUSTER_PROMETHEUS_IMAGES]);
  const env = await toolchainEnv();
  fs.rmSync(stateDir, { recursive: true, force: true });
  fs.mkdirSync(stateDir, { recursive: true });
  writeStatus("starting");
  const log = fs.openSync(files.log, "a");
  // detached: a session of its own, so it outlives this command and the terminal.
  const keeper = spawn(process.execPath, [...process.execArgv, __filename, "keeper"], {
    cwd: REPO_ROOT,
    env,
    detached: true,
    stdio: ["ignore", log, log],
  });
  fs.closeSync(log);
  fs.writeFileSync(files.pid, `${keeper.pid}\n`);
  keeper.unref();
  let exited = false;
  keeper.once("exit", () => (exited = true));
  await followLog(0, () => exited || readStatus() !== "starting", UP_TIMEOUT_MS);
  if (readStatus() !== "ready") {
    console.error(`\nThe sandbox did not come up (status ${readStatus() ?? "unknown"}); the keeper stopped what it had started. Log: ${files.log}`);
    return 1;
  }
  console.log("");
  process.stdout.write(fs.readFileSync(files.summary, "utf8"));
  return 0;
}

async function down(): Promise<number> {
  const pid = keeperPid();
  if (pid === undefined) {
    if (processesMentioning(files.runDir).length === 0 && staleStateFound().length === 0) {
      console.log("No sandbox is running.");
      return 0;
    }
    return (await stopLeftovers()) ? 0 : 1;
  }
  const offset = fs.existsSync(files.log) ? fs.statSync(files.log).size : 0;
  process.kill(pid, "SIGUSR2");
  const alive = () => fs.existsSync(`/proc/${pid}`);
  await followLog(offset, () => !alive(), DOWN_TIMEOUT_MS);
  const status = readStatus();
  const leftovers = processesMentioning(files.runDir);
  const stale = staleStateFound();
  if (status !== "stopped" || leftovers.length > 0 || stale.length > 0) {
    console.error(`Teardown incomplete (status ${status ?? "unknown"}, processes left: ${leftovers.join(", ") || "none"}, cluster state left: ${stale.join("; ") || "none"}); see ${files.log}`);
    return 1;
  }
  console.log(`Stopped: the stack is destroyed and nothing of the sandbox runs. Logs and state stay in ${stateDir}.`);
  return 0;
}

function formatSeries(series: Series[]): string {
  const rows = series
    .map((s) => [s.metric.cluster ?? "", s.metric.instance ?? "", s.metric.job ?? "", s.value[1]])
    .sort((a, b) => a.join(" ").localeCompare(b.join(" ")));
  const table = [["cluster", "instance", "job", "value"], ...rows];
  const widths = table[0].map((_, column) => Math.max(...table.map((row) => row[column].length)));
  return table.map((row) => `  ${row.map((cell, column) => cell.padEnd(widths[column])).join("  ").trimEnd()}`).join("\n");
}

async function keeper(): Promise<void> {
  const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
  const stopRequested = new Promise<void>((resolve) => process.once("SIGUSR2", () => resolve()));
  let session: SandboxStack | undefined;
  try {
    // `up` started this process with the toolchain's environment.
    const env = process.env;
    log("starting the sandbox: the cluster with prometheus-operator's Prometheus pair, the VM on its network, MinIO, the release mirror");
    const started = Date.now();
    session = await startSandboxStack({ env, runDir: files.runDir, log });
    const { sandbox, stack, history } = session;
    log(`sandbox ready in ${((Date.now() - started) / 1000).toFixed(0)} s; pulumi up -s sandbox (config: ${stack.configFile}, KUBECONFIG=${sandbox.cluster.kubeconfig})`);
    const result = await stack.up([], { onLine: (line) => console.log(`  | ${line}`) });
    log(`pulumi up took ${(result.durationMs / 1000).toFixed(1)} s`);

    const config = sandbox.parsedConfig();
    const querier = new ClusterQuerier(sandbox.cluster, config.kubernetes.namespace, config.kubernetes.querier.name);
    const url = await querier.readyUrl();
    const podName = (await querier.pods()).find((pod) => querier.url(pod) === url)!.name;
    // The querier finds the Prometheus pods and the store gateway through the headless Services' SRV records
    // (re-resolved every 30 s).
    const { namespace } = config.kubernetes;
    const expected = await expectedQuerierStores(sandbox);
    log(`asking querier pod ${podName} (${url}) for its stores: ${expected.join(", ")}`);
    const stores = await waitForQuerierStores(url, expected);
    // A replica's first scrapes may still be under way: wait until both sides answer.
    const answer = await waitFor("up from both clusters", async () => {
      const reply = await instantQuery(url, QUERY);
      return new Set(reply.series.map((s) => s.metric.cluster)).size === 2 ? reply : undefined;
    }, 60_000, 1_000);
    const raw = await instantQuery(url, QUERY, { dedup: false });
    const past = await historyThroughFrontend(sandbox, history);
    if (past.points === 0) throw new Error(`the query frontend (${past.frontendUrl}) found none of the bucket's history`);
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace("T", " ");
    const k8sSeries = (series: Series[]) => series.filter((s) => s.metric.cluster === K8S_CLUSTER).length;
    const storeLines = stores
      .map((store) => `  ${store.name.padEnd(22)} ${store.labelSets.map((set) => JSON.stringify(set)).join(" ")}`)
      .sort();
    const kubectl = `KUBECONFIG=${sandbox.cluster.kubeconfig} ${sandbox.cluster.kubectlBinary}`;
    const summary = [
      `Global view: \`${QUERY}\` answered by querier pod ${config.kubernetes.namespace}/${podName} (${url}),`,
      `deduplicated over ${REPLICA_LABEL}:`,
      formatSeries(answer.series),
      `(${K8S_CLUSTER}: ${k8sSeries(answer.series)} series deduplicated, ${k8sSeries(raw.series)} from both replicas without dedup)`,
      "",
      "Its stores (the VM sidecar installed by pulumi over SSH, the sidecars of both Prometheus pods of",
      `${sandbox.inClusterPrometheus.namespace}/${sandbox.inClusterPrometheus.name}, and the store gateway, found through headless Services and CoreDNS):`,
      ...storeLines,
      "",
      `History through the query frontend pod ${namespace}/${config.kubernetes.queryFrontend.name} (${past.frontendUrl}): \`${history.selector}\``,
      `from ${day(past.range.start * 1000)} to now, a point every ${past.range.step / 60} minutes, split into ${past.splitQueries} queries:`,
      `  ${past.points} points from ${day(history.startMs)} to ${day(history.endMs)} UTC, served from the bucket by the store gateway;`,
      `  the VM's Prometheus holds ${past.pointsInPrometheus} of them (it started days later).`,
      "",
      "Stack outputs:",
      ...Object.entries(await stack.outputs()).map(([key, value]) => `  ${key}: ${JSON.stringify(value)}`),
      "",
      `Still running in the background (keeper pid ${process.pid}; state, logs and the Pulumi backend in ${path.relative(REPO_ROOT, stateDir)}/).`,
      `Try: curl -s '${url}/api/v1/query?query=${QUERY}'`,
      `     curl -s '${past.frontendUrl}/api/v1/query_range?query=up&start=${past.range.start}&end=${past.range.end}&step=${past.range.step}'`,
      `     ${kubectl} -n ${config.kubernetes.namespace} port-forward deployment/${config.kubernetes.querier.name} 10902`,
      `     ${kubectl} get pods -A`,
      "Tear down with: make sandbox-down",
      "",
    ].join("\n");
    fs.writeFileSync(files.summary, summary);
    writeStatus("ready");
    log("ready");
  } catch (error) {
    log(`failed: ${(error as Error).stack ?? String(error)}`);
    if (session) {
      log("destroying what pulumi up created");
      await session.stack.destroy([], { onLine: (line) => console.log(`  | ${line}`) }).catch((e: Error) => log(`destroy failed too: ${e.message}`));
    }
    await session?.sandbox.stop().catch((e: Error) => log(`stopping the sandbox failed too: ${e.message}`));
    writeStatus("failed");
    process.exit(1);
  }

  await stopRequested;
  writeStatus("stopping");
  log("pulumi destroy -s sandbox");
  let destroyed = true;
  try {
    const result = await session.stack.destroy([], { onLine: (line) => console.log(`  | ${line}`) });
    log(`pulumi destroy took ${(result.durationMs / 1000).toFixed(1)} s`);
  } catch (error) {
    destroyed = false;
    log(`destroy failed: ${(error as Error).message}`);
  }
  log("stopping the VM, MinIO, the mirror and the cluster, and undoing what the cluster changed on the machine");
  await session.sandbox.stop();
  writeStatus(destroyed ? "stopped" : "destroy-failed");
  log("stopped");
  process.exit(destroyed ? 0 : 1);
}

const command = process.argv[2];
if (command === "keeper") {
  void keeper();
} else if (command === "up" || command === "down") {
  (command === "up" ? up() : down()).then(
    (code) => process.exit(code),
    (error: Error) => {
      console.error(error.message);
      process.exit(1);
    },
  );
} else {
  console.error("usage: node --import tsx sandbox/demo.ts up|down");
  process.exit(2);
}
