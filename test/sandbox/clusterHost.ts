// What the sandbox cluster changes on the machine outside its own data directory, and the one cleanup that undoes
// all of it. The same cleanup runs when a cluster is stopped, when a test process is interrupted (synchronously,
// from the exit handler), and when a later start finds leftovers of a run that was killed outright ("stale"): it is
// synchronous so that it can run from an exit handler, and every step tolerates finding nothing to do.
//
// What a cluster touches outside its data directory, and why it cannot be kept inside it:
//   - the bridge and the VM's network namespace and veth (fixed names: clusterNetwork.ts), an nftables guard table,
//     kube-proxy's nftables tables, and any KUBE-/CNI- iptables chains;
//   - sysctls: the kubelet sets vm.overcommit_memory, kernel.panic and kernel.panic_on_oops at start, and IP
//     forwarding must be on while pods reach Services; all are saved first and put back;
//   - cgroups: the kubelet's cgroupRoot in every hierarchy;
//   - paths the binaries hard-code: /var/lib/kubelet (device-plugins, plugins_registry, pod-resources), containerd's
//     shim sockets in /run/containerd/s, the CNI library's cache in /var/lib/cni, /var/log/containers links, and
//     /run/netns (made by `ip netns add`);
//   - containerd's sockets and the kubelet's root, beside the ledger (CONTAINERD_SOCKET, KUBELET_ROOT): a unix socket
//     path is too short for a deep checkout's run directory.
// The ledger (LEDGER_DIR) records, before the first change, the owner, the data directory, the sysctls' values and
// which of those paths did not exist yet; the cleanup reads it, and deletes it last.
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  API_SERVICE_IP,
  BRIDGE,
  CGROUP_ROOT,
  CNI_NETWORK,
  CONTAINERD_SOCKET,
  GUARD_TABLE,
  KUBELET_ROOT,
  LEDGER_DIR,
  POD_CIDR,
  SERVICE_CIDR,
  VM_NETNS,
} from "./clusterNetwork";

/**
 * Machine-wide sysctls the kubelet (setupKernelTunables), the bridge CNI plugin (isGateway turns on forwarding) or
 * kube-proxy may write. kube-proxy is configured to leave the conntrack ones alone; they are checked all the same.
 */
export const WATCHED_SYSCTLS = [
  "vm.overcommit_memory",
  "vm.panic_on_oom",
  "kernel.panic",
  "kernel.panic_on_oops",
  "kernel.keys.root_maxkeys",
  "kernel.keys.root_maxbytes",
  "net.ipv4.ip_forward",
  "net.ipv4.conf.all.forwarding",
  "net.ipv4.conf.all.route_localnet",
  "net.netfilter.nf_conntrack_max",
  "net.netfilter.nf_conntrack_tcp_timeout_established",
  "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
  "net.netfilter.nf_conntrack_tcp_be_liberal",
  "net.bridge.bridge-nf-call-iptables",
  "net.bridge.bridge-nf-call-ip6tables",
];
/** Forwarding stays on while the cluster runs: ClusterIP traffic from a pod is DNATed and routed back to the bridge. */
const FORWARDING_SYSCTLS = new Set(["net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding"]);

/** Paths outside the data directory that the cluster's programs create; each is removed only if it was absent. */
export const HARD_CODED_PATHS = [
  "/var/lib/kubelet",
  "/var/lib/cni",
  "/var/log/containers",
  "/var/log/pods",
  "/run/containerd",
  "/run/netns",
  "/run/kubernetes",
];

/** nftables tables of ours: the guard, and kube-proxy's (nftables mode). */
const OUR_NFT_TABLES = [`inet ${GUARD_TABLE}`, "ip kube-proxy", "ip6 kube-proxy"];
/** Tables iptables-nft creates on first use; removed after the run if they did not exist and hold nothing. */
const IPTABLES_NFT_TABLES = ["ip filter", "ip nat", "ip mangle", "ip raw", "ip6 filter", "ip6 nat", "ip6 mangle", "ip6 raw"];

export interface Ledger {
  /** The process that started the cluster, and its start time (so a reused pid is not mistaken for it). */
  ownerPid: number;
  ownerStartTime: string;
  /** The cluster's data directory (etcd, containerd's images and state, configs; removed by the cleanup). */
  dataDir: string;
  /** containerd's gRPC socket: shim socket names are derived from it. */
  containerdSocket: string;
  savedSysctls: Record<string, string>;
  /** Which of HARD_CODED_PATHS did not exist before the cluster started. */
  absentBefore: string[];
  /** `nft list tables` before the cluster started. */
  nftTablesBefore: string[];
}

const LEDGER_FILE = path.join(LEDGER_DIR, "ledger.json");

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion, synchronously; never throws (a missing program is exit code 127). */
export function runSync(command: string, args: readonly string[], input?: string): CommandResult {
  const result = spawnSync(command, [...args], { encoding: "utf8", input, timeout: 60_000 });
  return { code: result.error ? 127 : (result.status ?? 1), stdout: result.stdout ?? "", stderr: result.stderr ?? String(result.error ?? "") };
}

/** Runs a program that must succeed, synchronously; its stdout. */
export function mustRunSync(command: string, args: readonly string[], input?: string): string {
  const result = runSync(command, args, input);
  if (result.code !== 0) throw new Error(`${command} ${args.join(" ")}: exit ${result.code}: ${result.stderr.trim()}`);
  return result.stdout;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Blocks this thread (the cleanup is synchronous: it may run from an exit handler). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime); the command name before it may hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

export function readLedger(): Ledger | undefined {
  try {
    return JSON.parse(fs.readFileSync(LEDGER_FILE, "utf8")) as Ledger;
  } catch {
    return undefined;
  }
}

/** Whether the ledger's owner is still running (then its cluster is not stale: it is someone's running cluster). */
export function ownerAlive(ledger: Ledger): boolean {
  return processStartTime(ledger.ownerPid) === ledger.ownerStartTime;
}

function readSysctl(key: string): string | undefined {
  try {
    return fs.readFileSync(`/proc/sys/${key.replaceAll(".", "/")}`, "utf8").trim();
  } catch {
    return undefined;
  }
}

function writeSysctl(key: string, value: string): void {
  fs.writeFileSync(`/proc/sys/${key.replaceAll(".", "/")}`, `${value}\n`);
}

export function nftTables(): string[] {
  return runSync("nft", ["list", "tables"]).stdout.split("\n").map((line) => line.trim()).filter((line) => line.startsWith("table "))
    .map((line) => line.slice("table ".length));
}

/**
 * Records the machine's state before a cluster changes it, as the ledger; throws if the ledger of a running cluster
 * is there (one cluster per machine). Call after removeStaleState.
 */
export function writeLedger(dataDir: string, containerdSocket: string): Ledger {
  const existing = readLedger();
  if (existing && ownerAlive(existing)) throw new Error(runningClusterMessage(existing));
  const ledger: Ledger = {
    ownerPid: process.pid,
    ownerStartTime: processStartTime(process.pid)!,
    dataDir,
    containerdSocket,
    savedSysctls: Object.fromEntries(WATCHED_SYSCTLS.flatMap((key) => {
      const value = readSysctl(key);
      return value === undefined ? [] : [[key, value]];
    })),
    absentBefore: HARD_CODED_PATHS.filter((p) => !fs.existsSync(p)),
    nftTablesBefore: nftTables(),
  };
  fs.mkdirSync(LEDGER_DIR, { recursive: true });
  fs.writeFileSync(`${LEDGER_FILE}.tmp`, `${JSON.stringify(ledger, null, 2)}\n`);
  fs.renameSync(`${LEDGER_FILE}.tmp`, LEDGER_FILE);
  return ledger;
}

function runningClusterMessage(ledger: Ledger): string {
  return `a sandbox cluster is already running on this machine (process ${ledger.ownerPid}, data in ${ledger.dataDir}); ` +
    "only one can run at a time: stop it first (make sandbox-down, or let its test run finish)";
}

/**
 * Puts the saved sysctls back. `keepForwarding` leaves IP forwarding on, as it must be while the cluster runs;
 * used right after the kubelet starts, which rewrites the panic and overcommit settings once. What it changed.
 */
export function restoreSysctls(ledger: Ledger, keepForwarding = false): string[] {
  const changed: string[] = [];
  for (const [key, value] of Object.entries(ledger.savedSysctls)) {
    if (keepForwarding && FORWARDING_SYSCTLS.has(key)) continue;
    const current = readSysctl(key);
    if (current === undefined || current === value) continue;
    writeSysctl(key, value);
    changed.push(`${key}=${value} (was ${current})`);
  }
  return changed;
}

/** Whether any trace of a cluster is on the machine: its ledger, its bridge, its cgroups, its VM's netns. */
export function staleStateFound(): string[] {
  const found: string[] = [];
  const ledger = readLedger();
  if (ledger) found.push(`the ledger of a cluster started by process ${ledger.ownerPid} (${ledger.dataDir})`);
  if (linkExists(BRIDGE)) found.push(`bridge ${BRIDGE}`);
  if (cgroupDirs().length > 0) found.push(`cgroup ${CGROUP_ROOT}`);
  if (runSync("ip", ["netns", "list"]).stdout.split("\n").some((line) => line.split(" ")[0] === VM_NETNS)) found.push(`network namespace ${VM_NETNS}`);
  if (nftTables().includes(`inet ${GUARD_TABLE}`)) found.push(`nftables table ${GUARD_TABLE}`);
  return found;
}

function linkExists(name: string): boolean {
  return runSync("ip", ["link", "show", name]).code === 0;
}

/** The kubelet's cgroupRoot in every hierarchy, where it exists. */
function cgroupDirs(): string[] {
  const roots = fs.existsSync("/sys/fs/cgroup") ? fs.readdirSync("/sys/fs/cgroup") : [];
  return roots.map((hierarchy) => path.join("/sys/fs/cgroup", hierarchy, CGROUP_ROOT)).filter((dir) => fs.existsSync(dir));
}

/** Makes the kubelet's cgroupRoot in every hierarchy; a new cpuset cgroup starts empty, so it gets its parent's. */
export function createCgroups(): void {
  for (const hierarchy of fs.readdirSync("/sys/fs/cgroup")) {
    const parent = path.join("/sys/fs/cgroup", hierarchy);
    if (!fs.statSync(parent).isDirectory() || !fs.existsSync(path.join(parent, "cgroup.procs"))) continue;
    const dir = path.join(parent, CGROUP_ROOT);
    fs.mkdirSync(dir, { recursive: true });
    for (const file of ["cpuset.cpus", "cpuset.mems"]) {
      if (fs.existsSync(path.join(parent, file))) fs.writeFileSync(path.join(dir, file), fs.readFileSync(path.join(parent, file)));
    }
  }
}

/** This process and its ancestors: a shell that started us may name the data directory; it is never signalled. */
function ancestors(): Set<number> {
  const pids = new Set<number>();
  for (let pid = process.pid; pid > 1 && !pids.has(pid); ) {
    pids.add(pid);
    try {
      pid = Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 1);
    } catch {
      break;
    }
  }
  return pids;
}

/**
 * The cluster's processes: whose command line names the data directory (etcd, the control plane, containerd, the
 * kubelet, kube-proxy) or containerd's socket (its shims, which run in containerd's cgroup), or that run in the
 * kubelet's cgroups (every container). Never one of ours.
 */
export function clusterProcesses(dataDir: string | undefined): number[] {
  const keep = ancestors();
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || keep.has(Number(entry))) continue;
    try {
      const inCgroup = fs.readFileSync(`/proc/${entry}/cgroup`, "utf8").split("\n")
        .some((line) => line.endsWith(`:/${CGROUP_ROOT}`) || line.includes(`:/${CGROUP_ROOT}/`));
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`);
      const namesOurs = (dataDir !== undefined && cmdline.includes(`${dataDir}/`)) || cmdline.includes(`${CONTAINERD_SOCKET}\0`);
      if (inCgroup || namesOurs) pids.push(Number(entry));
    } catch {
      // It exited while we looked.
    }
  }
  return pids;
}

function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Gone already.
    }
  }
}

/** The mount points at or below any of `dirs`, deepest first. */
function mountsBelow(dirs: readonly string[]): string[] {
  return fs.readFileSync("/proc/self/mounts", "utf8").split("\n")
    .map((line) => line.split(" ")[1]?.replace(/\\040/g, " "))
    .filter((mount): mount is string => mount !== undefined && dirs.some((dir) => mount === dir || mount.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

/**
 * containerd 1.6 puts each shim's socket in /run/containerd/s, named by the sha256 of the containerd address, the
 * namespace and the task's id (runtime/v2/shim's SocketAddress); the tasks are directories in its state dir.
 */
function shimSockets(ledger: Ledger): string[] {
  const tasks = path.join(ledger.dataDir, "containerd", "state", "io.containerd.runtime.v2.task", "k8s.io");
  const ids = fs.existsSync(tasks) ? fs.readdirSync(tasks) : [];
  return ids.map((id) => {
    const hash = crypto.createHash("sha256").update(path.join(ledger.containerdSocket, "k8s.io", id)).digest("hex");
    return path.join("/run/containerd/s", hash);
  });
}

function removeIfEmpty(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    // Not empty, or gone.
  }
}

/** rm -rf that refuses to cross into another file system, in case something is still mounted below. */
function removeTree(dir: string): void {
  const result = runSync("rm", ["-rf", "--one-file-system", "--", dir]);
  if (result.code !== 0) throw new Error(`removing ${dir}: ${result.stderr.trim()}`);
}

/** Removes the jumps to KUBE-* and CNI-* chains from the built-in chains, then those chains, in every table. */
function removeIptablesChains(report: (what: string) => void): void {
  for (const tool of ["iptables", "ip6tables"]) {
    for (const table of ["filter", "nat", "mangle", "raw"]) {
      const saved = runSync(`${tool}-save`, ["-t", table]);
      if (saved.code !== 0 || !/^:(KUBE|CNI)-/m.test(saved.stdout)) continue;
      report(`${tool} -t ${table}: KUBE-/CNI- chains`);
      for (const rule of saved.stdout.split("\n").filter((line) => /^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j (KUBE|CNI)-/.test(line))) {
        // iptables-save prints a rule as the arguments that append it: the same with -D deletes it.
        runSync(tool, ["-t", table, "-D", ...splitRule(rule.slice(3))]);
      }
      const chains = [...saved.stdout.matchAll(/^:((?:KUBE|CNI)-\S+)/gm)].map((match) => match[1]);
      for (const chain of chains) runSync(tool, ["-t", table, "-F", chain]);
      for (const chain of chains) runSync(tool, ["-t", table, "-X", chain]);
    }
  }
}

/** An iptables-save rule's words, honouring its double quotes (comments). */
function splitRule(rule: string): string[] {
  return [...rule.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((match) => match[1] ?? match[2]);
}

export interface CleanupOptions {
  /** Progress and findings, one line each. */
  log?: (line: string) => void;
  /** Reports what it finds (a stale run's leftovers) instead of doing it silently. */
  stale?: boolean;
}

/**
 * Undoes everything a cluster did to the machine, from the ledger and the fixed names: stops whatever of it still
 * runs, unmounts, deletes its network, firewall rules, cgroups, the files it left in fixed paths, restores the
 * sysctls, removes its data directory and, last, the ledger. Idempotent; every step runs even if one fails, and
 * what is left over afterwards is thrown as one error.
 */
export function undoClusterHostState(options: CleanupOptions = {}): void {
  const log = options.log ?? (() => undefined);
  const report = (what: string) => {
    if (options.stale) log(`stale: ${what}`);
  };
  const ledger = readLedger();
  if (ledger && ledger.ownerPid !== process.pid && ownerAlive(ledger)) throw new Error(runningClusterMessage(ledger));
  const dataDir = ledger?.dataDir;
  const failures: string[] = [];
  const step = (what: string, run: () => void) => {
    try {
      run();
    } catch (error) {
      failures.push(`${what}: ${(error as Error).message}`);
    }
  };

  step("processes", () => {
    // Shim sockets are known by the task directories, which go with the data directory: listed first.
    const sockets = ledger ? shimSockets(ledger) : [];
    let pids = clusterProcesses(dataDir);
    if (pids.length > 0) {
      report(`${pids.length} processes (${[...new Set(pids.map(comm))].join(", ")})`);
      // Their data is thrown away: no grace for anyone, only a moment for a clean exit where it is cheap.
      signalAll(pids, "SIGTERM");
      for (let i = 0; i < 15 && (pids = clusterProcesses(dataDir)).length > 0; i++) sleepSync(200);
      signalAll(pids, "SIGKILL");
      for (let i = 0; i < 50 && (pids = clusterProcesses(dataDir)).length > 0; i++) sleepSync(100);
      if (pids.length > 0) throw new Error(`still running after SIGKILL: ${pids.join(", ")}`);
    }
    for (const socket of sockets) {
      if (fs.existsSync(socket)) {
        fs.rmSync(socket, { force: true });
        report(`shim socket ${socket}`);
      }
    }
  });

  step("mounts", () => {
    // Pod network namespaces, secret and projected volumes, container root filesystems; a lazy unmount when busy.
    const dirs = [...(dataDir ? [dataDir] : []), KUBELET_ROOT, "/var/lib/kubelet"];
    for (let pass = 0; pass < 3; pass++) {
      const mounts = mountsBelow(dirs);
      if (mounts.length === 0) return;
      if (pass === 0) report(`${mounts.length} mounts`);
      for (const mount of mounts) if (runSync("umount", [mount]).code !== 0) runSync("umount", ["--lazy", mount]);
    }
    const left = mountsBelow(dirs);
    if (left.length > 0) throw new Error(`still mounted: ${left.join(", ")}`);
  });

  step("network", () => {
    const ports = runSync("ip", ["-o", "link", "show", "master", BRIDGE]).stdout.split("\n")
      .map((line) => line.split(": ")[1]?.split("@")[0]).filter((name): name is string => Boolean(name));
    for (const port of ports) runSync("ip", ["link", "del", port]);
    if (linkExists(BRIDGE)) {
      report(`bridge ${BRIDGE}`);
      mustRunSync("ip", ["link", "del", BRIDGE]);
    }
    if (runSync("ip", ["netns", "list"]).stdout.split("\n").some((line) => line.split(" ")[0] === VM_NETNS)) {
      report(`network namespace ${VM_NETNS}`);
      mustRunSync("ip", ["netns", "del", VM_NETNS]);
    }
    const tables = nftTables();
    for (const table of OUR_NFT_TABLES.filter((candidate) => tables.includes(candidate))) {
      report(`nftables table ${table}`);
      mustRunSync("nft", ["delete", "table", ...table.split(" ")]);
    }
    removeIptablesChains(report);
    // iptables-nft makes its tables on first use; those that were not there before and are empty again go.
    for (const table of IPTABLES_NFT_TABLES.filter((candidate) => tables.includes(candidate) && !ledger?.nftTablesBefore.includes(candidate))) {
      const listing = runSync("nft", ["list", "table", ...table.split(" ")]).stdout;
      const content = listing.split("\n").map((line) => line.trim()).filter((line) => line && line !== "}" && !/^(table|chain|type) /.test(line));
      if (content.length === 0) mustRunSync("nft", ["delete", "table", ...table.split(" ")]);
    }
    // Connection tracking entries of the cluster's addresses (they would only age out).
    for (const args of [["-s", POD_CIDR], ["-d", POD_CIDR], ["-d", SERVICE_CIDR], ["-d", API_SERVICE_IP]]) runSync("conntrack", ["-D", ...args]);
  });

  step("files", () => {
    const results = "/var/lib/cni/results";
    for (const file of fs.existsSync(results) ? fs.readdirSync(results) : []) {
      // <network>-<container id>-<interface>, and containerd's implicit loopback network of the same sandbox.
      const id = file.startsWith(`${CNI_NETWORK}-`) ? file.slice(CNI_NETWORK.length + 1).replace(/-[^-]+$/, "") : undefined;
      if (!id) continue;
      fs.rmSync(path.join(results, file), { force: true });
      fs.rmSync(path.join(results, `cni-loopback-${id}-lo`), { force: true });
      report(`${results}/${file}`);
    }
    for (const dir of ["/var/log/containers", "/var/log/pods"]) {
      for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
        const link = path.join(dir, name);
        if (dataDir && fs.lstatSync(link).isSymbolicLink() && fs.readlinkSync(link).startsWith(`${dataDir}/`)) fs.rmSync(link);
      }
    }
    const absent = new Set(ledger?.absentBefore ?? []);
    if (absent.has("/var/lib/kubelet") && fs.existsSync("/var/lib/kubelet")) {
      // Only ever made by our kubelet (device-plugins, plugins_registry, pod-resources).
      removeTree("/var/lib/kubelet");
      report("/var/lib/kubelet");
    }
    if (absent.has("/run/netns") && fs.existsSync("/run/netns") && fs.readdirSync("/run/netns").length === 0) {
      // `ip netns add` makes /run/netns a shared bind mount of itself.
      while (mountsBelow(["/run/netns"]).includes("/run/netns") && runSync("umount", ["/run/netns"]).code === 0);
      removeIfEmpty("/run/netns");
    }
    for (const dir of ["/run/containerd/s", "/run/containerd/runc/k8s.io", "/run/containerd/runc"]) removeIfEmpty(dir);
    for (const dir of ["/var/lib/cni/results", "/var/lib/cni/networks"]) if (absent.has("/var/lib/cni")) removeIfEmpty(dir);
    for (const dir of HARD_CODED_PATHS) if (absent.has(dir)) removeIfEmpty(dir);
  });

  step("cgroups", () => {
    for (const dir of cgroupDirs()) {
      report(`cgroup ${dir}`);
      // Children first; a cgroup directory goes with rmdir, its control files with it.
      const removeDeepest = (cgroup: string) => {
        for (const entry of fs.readdirSync(cgroup, { withFileTypes: true })) {
          if (entry.isDirectory()) removeDeepest(path.join(cgroup, entry.name));
        }
        fs.rmdirSync(cgroup);
      };
      removeDeepest(dir);
    }
  });

  step("sysctls", () => {
    if (!ledger) return;
    for (const change of restoreSysctls(ledger)) log(`restored ${change}`);
  });

  step("data directory", () => {
    if (fs.existsSync(KUBELET_ROOT)) {
      if (mountsBelow([KUBELET_ROOT]).length > 0) throw new Error(`something is still mounted below ${KUBELET_ROOT}; not removing it`);
      removeTree(KUBELET_ROOT);
    }
    if (!dataDir || !fs.existsSync(dataDir)) return;
    if (mountsBelow([dataDir]).length > 0) throw new Error(`something is still mounted below ${dataDir}; not removing it`);
    removeTree(dataDir);
  });

  if (failures.length > 0) throw new Error(`the cluster's cleanup left things behind (the ledger ${LEDGER_FILE} is kept for the next attempt):\n  ${failures.join("\n  ")}`);
  fs.rmSync(LEDGER_DIR, { recursive: true, force: true });
  removeIfEmpty(path.dirname(LEDGER_DIR));
}

function comm(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "?";
  }
}

/**
 * The machine's state as far as a cluster can change it, as text to compare before and after a run: links,
 * addresses, routes, network namespaces, the nftables ruleset and iptables (counters blanked), the watched sysctls,
 * mounts, cgroup directories, the hard-coded paths, and the cluster's processes. What other suites on the
 * machine make and remove meanwhile is left out: their VMs' overlay mounts and nspawn cgroups, their blackhole tables.
 */
export function hostSnapshot(): string {
  const section = (title: string, lines: string[]) => [`## ${title}`, ...lines];
  const lines = (text: string) => text.split("\n").filter((line) => line.trim() !== "");
  const foreignTable = /^table ip thanos_global_view_blackhole_/;
  const ruleset: string[] = [];
  let skipping = false;
  for (const line of lines(runSync("nft", ["list", "ruleset"]).stdout)) {
    if (foreignTable.test(line)) skipping = true;
    if (!skipping) ruleset.push(line.replace(/counter packets \d+ bytes \d+/, "counter"));
    if (skipping && line === "}") skipping = false;
  }
  const iptables = (tool: string) => lines(runSync(tool, []).stdout).filter((line) => !line.startsWith("#")).map((line) => line.replace(/\[\d+:\d+\]/, "[-]"));
  const cgroups = fs.readdirSync("/sys/fs/cgroup").flatMap((hierarchy) => {
    const dir = path.join("/sys/fs/cgroup", hierarchy);
    return fs.statSync(dir).isDirectory() && fs.existsSync(path.join(dir, "cgroup.procs"))
      ? fs.readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isDirectory() && !["payload", "supervisor"].includes(entry.name)).map((entry) => `${hierarchy}/${entry.name}`)
      : [];
  });
  const entries = (dir: string): number => (fs.statSync(dir).isDirectory() ? fs.readdirSync(dir).reduce((sum, name) => sum + 1 + (fs.lstatSync(path.join(dir, name)).isDirectory() ? entries(path.join(dir, name)) : 0), 0) : 0);
  return [
    ...section("links", lines(runSync("ip", ["-o", "link", "show"]).stdout).map((line) => line.replace(/^\d+: /, "").replace(/\\.*$/, "").replace(/ qlen \d+/, ""))),
    ...section("addresses", lines(runSync("ip", ["-o", "addr", "show"]).stdout).map((line) => line.split(/\s+/).slice(1, 4).join(" "))),
    ...section("routes", lines(runSync("ip", ["route", "show", "table", "all"]).stdout).sort()),
    ...section("network namespaces", lines(runSync("ip", ["netns", "list"]).stdout)),
    ...section("nftables", ruleset),
    ...section("iptables", iptables("iptables-save")),
    ...section("ip6tables", iptables("ip6tables-save")),
    ...section("sysctls", WATCHED_SYSCTLS.map((key) => `${key} = ${readSysctl(key) ?? "(none)"}`)),
    ...section("mounts", lines(fs.readFileSync("/proc/self/mounts", "utf8")).map((line) => line.split(" ").slice(1, 3).join(" ")).filter((mount) => !mount.includes("/.sandbox/vm/")).sort()),
    ...section("cgroups", cgroups.sort()),
    ...section("paths", [...HARD_CODED_PATHS, LEDGER_DIR].map((p) => (fs.existsSync(p) ? `${p}: ${entries(p)} entries` : `${p}: absent`))),
    ...section("the cluster's processes (in the kubelet's cgroups, or containerd's shims)", clusterProcesses(undefined).map((pid) => `${pid} ${comm(pid)}`)),
  ].join("\n") + "\n";
}
