// The sandbox "VM": a Debian bookworm booted with systemd-nspawn from the tarball test/build/build-vm-rootfs caches,
// reached over SSH like a real server, with Debian's Prometheus in it. The system tests install Thanos sidecars on it
// with the component's command strings over ssh; the e2e tests and the demo through @pulumi/command. Each VM's root
// is an overlay of a fresh directory on one read-only unpacking of the tarball, so a boot copies nothing. Two ways to
// place it on a network:
//   - sharing the host's network (the system tests): every VM service binds only to the VM's own loopback address
//     (127.0.0.2 by default), so several VMs with different addresses can run side by side;
//   - in a network namespace of its own (networkNamespace, on the sandbox cluster's bridge): like a real machine, its
//     services listen on 0.0.0.0 of its own interfaces, and pods reach it as they would reach a VM.
// Needs root.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { runCommand } from "../harness/command";
import { REPO_ROOT } from "../repo";
import { isListening } from "./ports";
import { runForStdout, sleep, tailOfFile } from "./process";
import { renderPrometheusConfig } from "./prometheus";


export const PROMETHEUS_PORT = 9090;
export const PROMETHEUS_CONFIG_FILE = "/etc/prometheus/prometheus.yml";
/** Debian's TSDB directory, owned by the `prometheus` user: a sidecar uploading blocks must run as that user. */
export const PROMETHEUS_DATA_DIR = "/var/lib/prometheus/metrics2";

export interface PrometheusOptions {
  /** Default `{cluster: "prom_vm"}`; `null` or `{}` configures none. */
  externalLabels?: Record<string, string> | null;
  /** `--storage.tsdb.min-block-duration`, default "2h" (Thanos uploads need min = max). */
  minBlockDuration?: string;
  /** `--storage.tsdb.max-block-duration`, default "2h". */
  maxBlockDuration?: string;
  /** Scrape and rule evaluation interval, default "15s". */
  scrapeInterval?: string;
  /** More Prometheus flags, e.g. "--web.enable-lifecycle"; no whitespace or quotes inside one. */
  extraArgs?: string[];
}

/** The Prometheus settings in force, defaults filled in. */
export interface PrometheusSettings {
  externalLabels: Record<string, string>;
  minBlockDuration: string;
  maxBlockDuration: string;
  scrapeInterval: string;
  extraArgs: string[];
}

export interface VmOptions {
  /**
   * Sharing the host's network: the loopback address every VM service binds to; default 127.0.0.2 (in 127.0.0.0/8,
   * not 127.0.0.1). In a network namespace: the VM's address there, where the host reaches it.
   */
  address?: string;
  /** A network namespace for the VM (a path under /run/netns), made and configured by the caller. */
  networkNamespace?: string;
  /** The VM's /etc/resolv.conf, in a network namespace (nothing may resolve through the host's resolver). */
  resolvConf?: string;
  /** Machine (and host) name; default derived from the address, so VMs with different addresses never clash. */
  name?: string;
  /** sshd port, default 22. */
  sshPort?: number;
  prometheus?: PrometheusOptions;
  /** Wait until Prometheus answers /-/ready before returning (default true); false for a deliberately broken one. */
  waitForPrometheus?: boolean;
  /** Root filesystem tarball; default: whatever test/build/build-vm-rootfs prints (it builds on a cold cache). */
  rootfsTarball?: string;
  /** Parent of the per-VM directory; default <repo>/.sandbox/vm (git-ignored). */
  workDir?: string;
  /** Time allowed from nspawn start to sshd (and Prometheus) answering; default 60 s. */
  bootTimeoutMs?: number;
  /**
   * An OpenSSH private key (with `<file>.pub` beside it) to authorize instead of a key of its own: several VMs of one
   * stack, which has one sshPrivateKey for all.
   */
  clientKeyFile?: string;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  stdin?: string | Buffer;
  /** Kills ssh and rejects after this long; default 120 s. */
  timeoutMs?: number;
}

const STOP_TIMEOUT_MS = 20_000;
// In each VM directory: the PID of the process that started it, and nspawn's PID.
const OWNER_FILE = "owner.pid";
const NSPAWN_PID_FILE = "nspawn.pid";

/** The root filesystem tarball test/build/build-vm-rootfs builds or finds cached. */
export async function buildRootfs(): Promise<string> {
  return (await runForStdout(path.join(REPO_ROOT, "test", "build", "build-vm-rootfs"))).trim();
}

export class Vm {
  readonly user = "root";
  readonly prometheusUrl: string;
  /** The VM's root filesystem on the host (an overlay mount while the VM exists). */
  readonly rootfs: string;
  readonly privateKeyFile: string;
  readonly knownHostsFile: string;
  /** nspawn's output: the container's console, useful when a boot fails. */
  readonly consoleLog: string;
  private key = "";
  private hostPublicKey = "";
  /** Prometheus settings written into the image before boot. */
  private readonly bootPrometheus: PrometheusSettings;
  private nspawn: ChildProcess | undefined;
  /** The container's systemd; found once sshd answers, so it can be killed even if nspawn died first. */
  private initPid = 0;
  private exited: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly name: string,
    readonly address: string,
    readonly sshPort: number,
    /** The per-VM directory, removed by stop(). */
    readonly dir: string,
    prometheus: PrometheusOptions,
    private readonly clientKeyFile?: string,
    /** Set when the VM has a network namespace of its own. */
    private readonly network?: { namespace: string; resolvConf?: string },
  ) {
    this.prometheusUrl = `http://${address}:${PROMETHEUS_PORT}`;
    this.rootfs = path.join(dir, "rootfs");
    this.privateKeyFile = path.join(dir, "id_ed25519");
    this.knownHostsFile = path.join(dir, "known_hosts");
    this.consoleLog = path.join(dir, "console.log");
    this.bootPrometheus = resolvePrometheus(prometheus);
  }

  /** Mounts a fresh root filesystem, makes this boot's keys, boots it and waits until sshd answers. */
  static async start(opts: VmOptions = {}): Promise<Vm> {
    const address = opts.address ?? "127.0.0.2";
    if (opts.networkNamespace === undefined) checkAddress(address);
    const name = opts.name ?? `tgv-vm-${address.replaceAll(".", "-")}`;
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) throw new Error(`VM name must be a lowercase host name: ${name}`);
    const sshPort = opts.sshPort ?? 22;
    const lower = await extracted(opts.rootfsTarball ?? (await buildRootfs()));
    const workDir = opts.workDir ?? path.join(REPO_ROOT, ".sandbox", "vm");
    fs.mkdirSync(workDir, { recursive: true });
    await reapOrphans(workDir);
    // Sharing the host's network, a listener already there (a VM left from a crashed run, or a host service on a
    // wildcard address) would make sshd or Prometheus fail to bind, or worse, answer in their place. A network
    // namespace of its own starts empty.
    for (const port of opts.networkNamespace === undefined ? [sshPort, PROMETHEUS_PORT] : []) {
      if (await isListening(port, address)) throw new Error(`${address}:${port} is in use; stop what listens there`);
    }
    const network = opts.networkNamespace === undefined ? undefined : { namespace: opts.networkNamespace, resolvConf: opts.resolvConf };
    const vm = new Vm(name, address, sshPort, fs.mkdtempSync(path.join(workDir, `${name}-`)), opts.prometheus ?? {}, opts.clientKeyFile, network);
    fs.writeFileSync(path.join(vm.dir, OWNER_FILE), `${process.pid}\n`);
    const deadline = Date.now() + (opts.bootTimeoutMs ?? 60_000);
    try {
      await vm.prepare(lower);
      vm.boot();
      await vm.waitForSsh(deadline);
      if (opts.waitForPrometheus ?? true) await vm.waitForPrometheus(deadline);
      return vm;
    } catch (err) {
      const consoleTail = tailOfFile(vm.consoleLog);
      const cleanup = await vm.stop().then(
        () => "",
        (e: unknown) => `\ncleanup failed too: ${String(e)}`,
      );
      throw new Error(
        `VM ${name} failed to start: ${String(err)}${cleanup}` +
          (consoleTail ? `\n--- console (tail) ---\n${consoleTail}` : ""),
      );
    }
  }

  /**
   * Its entry in a stack's `vms` when it shares the host's network: its services keep to its loopback address, and
   * Debian's Prometheus keeps its TSDB where Debian puts it.
   */
  stackEntry(name: string): Record<string, unknown> {
    return { name, host: this.address, hostKey: this.hostKey, prometheusUrl: this.prometheusUrl, tsdbPath: PROMETHEUS_DATA_DIR, bindAddress: this.address, readyTimeoutSeconds: 60 };
  }

  /** The client's private key (OpenSSH format), authorized for root. */
  get privateKey(): string {
    return this.key;
  }

  /** The VM's ed25519 host key, "ssh-ed25519 AAAA…" (authorized_keys format, as @pulumi/command's hostKey). */
  get hostKey(): string {
    return this.hostPublicKey;
  }

  /** nspawn's PID (0 before boot). */
  get pid(): number {
    return this.nspawn?.pid ?? 0;
  }

  /** ssh's argument list up to the destination; append a command. */
  sshArgs(): string[] {
    return [
      "-F", "/dev/null",
      "-i", this.privateKeyFile,
      "-p", String(this.sshPort),
      "-o", "BatchMode=yes",
      "-o", "IdentitiesOnly=yes",
      "-o", "IdentityAgent=none",
      "-o", "StrictHostKeyChecking=yes",
      "-o", `UserKnownHostsFile=${this.knownHostsFile}`,
      "-o", "GlobalKnownHostsFile=/dev/null",
      "-o", "ConnectTimeout=5",
      "-o", "LogLevel=ERROR",
      `${this.user}@${this.address}`,
    ];
  }

  /** Runs a shell command in the VM over ssh. Rejects only when ssh cannot be run or times out. */
  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return runSsh(this.sshArgs(), command, opts);
  }

  /** Where the VM's services listen: its own address on the host's network, every interface in its own. */
  private get listenAddress(): string {
    return this.network ? "0.0.0.0" : this.address;
  }

  /** The target its Prometheus scrapes itself at (the instance label of its `up`): in a netns of its own, localhost. */
  get selfScrapeTarget(): string {
    return `${this.network ? "localhost" : this.address}:${PROMETHEUS_PORT}`;
  }

  /**
   * Rewrites Prometheus' flags and config (unset options take the defaults, not the current values) and restarts it.
   * Waits for /-/ready unless waitReady is false (for setups meant to fail).
   */
  async reconfigurePrometheus(
    options: PrometheusOptions,
    { waitReady = true, timeoutMs = 60_000 }: { waitReady?: boolean; timeoutMs?: number } = {},
  ): Promise<void> {
    const settings = resolvePrometheus(options);
    const write = (file: string, text: string) =>
      `printf %s '${Buffer.from(text).toString("base64")}' | base64 -d > ${file}`;
    const script = [
      write(PROMETHEUS_CONFIG_FILE, prometheusConfig(this.selfScrapeTarget, settings)),
      write("/etc/default/prometheus", prometheusDefaults(this.listenAddress, settings)),
      // A Prometheus that kept failing has hit systemd's start limit, which would refuse the restart.
      "systemctl reset-failed prometheus.service",
      "systemctl restart prometheus.service",
    ].join(" && ");
    const r = await this.exec(script);
    if (r.code !== 0) throw new Error(`reconfiguring Prometheus failed (${r.code}): ${r.stderr}`);
    if (waitReady) await this.waitForPrometheus(Date.now() + timeoutMs);
  }

  /** nspawn and everything in the container (host PIDs). */
  processIds(): number[] {
    return this.pid ? [this.pid, ...descendants(this.pid)] : [];
  }

  /**
   * Shuts the container down (SIGTERM makes nspawn halt it cleanly), SIGKILLs it after a bounded wait, then unmounts
   * and removes the directory. Safe to call more than once.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.running()) {
        this.nspawn?.kill("SIGTERM");
        if (!(await within(this.exited, STOP_TIMEOUT_MS))) {
          this.killSync();
          await this.exited;
        }
      }
      await unmount(this.rootfs);
      removeTree(this.dir);
    })();
    return this.stopping;
  }

  private running(): boolean {
    const n = this.nspawn;
    return n?.pid !== undefined && n.exitCode === null && n.signalCode === null;
  }

  private killSync(): void {
    const pids = this.running() ? this.processIds() : [];
    if (this.initPid && readComm(this.initPid) === "systemd") pids.push(this.initPid);
    killAll(pids);
  }

  private async prepare(lower: string): Promise<void> {
    const upper = path.join(this.dir, "upper");
    const work = path.join(this.dir, "work");
    for (const d of [this.rootfs, upper, work]) fs.mkdirSync(d);
    const overlay = `lowerdir=${lower},upperdir=${upper},workdir=${work}`;
    if (/[,:\\\s]/.test([lower, upper, work].join(""))) {
      throw new Error(`overlay paths must not contain , : \\ or spaces: ${overlay}`);
    }
    await run("mount", ["-t", "overlay", "overlay", "-o", overlay, this.rootfs]);
    const etc = (p: string) => path.join(this.rootfs, "etc", p);

    // Per-boot keys: the image carries none, so no two VMs (or boots) share an identity.
    const hostKeyFile = etc("ssh/ssh_host_ed25519_key");
    const keygen = (file: string, comment: string) =>
      run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
    await keygen(hostKeyFile, `root@${this.name}`);
    if (this.clientKeyFile) {
      fs.copyFileSync(this.clientKeyFile, this.privateKeyFile);
      fs.copyFileSync(`${this.clientKeyFile}.pub`, `${this.privateKeyFile}.pub`);
    } else {
      await keygen(this.privateKeyFile, `thanos-global-view@${this.name}`);
    }
    this.key = fs.readFileSync(this.privateKeyFile, "utf8");
    this.hostPublicKey = fs.readFileSync(`${hostKeyFile}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
    const hostPattern = this.sshPort === 22 ? this.address : `[${this.address}]:${this.sshPort}`;
    fs.writeFileSync(this.knownHostsFile, `${hostPattern} ${this.hostPublicKey}\n`);
    const sshDir = path.join(this.rootfs, "root", ".ssh");
    fs.mkdirSync(sshDir, { recursive: true });
    fs.chmodSync(sshDir, 0o700);
    const authorized = fs.readFileSync(`${this.privateKeyFile}.pub`);
    fs.writeFileSync(path.join(sshDir, "authorized_keys"), authorized, { mode: 0o600 });

    // Debian's sshd_config includes sshd_config.d first, and sshd keeps the first value it reads. Only the ed25519
    // host key is offered, so a client pinning it (Go's x/crypto/ssh prefers ECDSA and RSA) negotiates it.
    fs.writeFileSync(
      etc("ssh/sshd_config.d/thanos-global-view.conf"),
      [
        `ListenAddress ${this.listenAddress}:${this.sshPort}`,
        "HostKey /etc/ssh/ssh_host_ed25519_key",
        "PermitRootLogin prohibit-password",
        "AuthenticationMethods publickey",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "",
      ].join("\n"),
    );
    fs.writeFileSync(etc("hostname"), `${this.name}\n`);
    fs.writeFileSync(etc("hosts"), `127.0.0.1 localhost\n${this.address} ${this.name}\n::1 localhost ip6-localhost\n`);
    fs.writeFileSync(etc("prometheus/prometheus.yml"), prometheusConfig(this.selfScrapeTarget, this.bootPrometheus));
    fs.writeFileSync(etc("default/prometheus"), prometheusDefaults(this.listenAddress, this.bootPrometheus));
    if (this.network?.resolvConf !== undefined) {
      // The image's resolv.conf may be a link (to systemd-resolved's); replaced by a file of its own.
      fs.rmSync(etc("resolv.conf"), { force: true });
      fs.writeFileSync(etc("resolv.conf"), this.network.resolvConf);
    }
  }

  private boot(): void {
    const log = fs.openSync(this.consoleLog, "a");
    try {
      this.nspawn = spawn(
        "setpriv",
        [
          // If this process dies, even by SIGKILL, nspawn gets SIGTERM and halts the container; the next start()
          // removes the directory (reapOrphans).
          "--pdeathsig", "SIGTERM",
          "systemd-nspawn",
          "-D", this.rootfs,
          "--boot",
          "--register=no",
          "--keep-unit",
          `--machine=${this.name}`,
          // Keeps the container's journal out of the host's /var/log/journal.
          "--link-journal=no",
          ...(this.network
            ? [`--network-namespace-path=${this.network.namespace}`, ...(this.network.resolvConf === undefined ? [] : ["--resolv-conf=off"])]
            : []),
        ],
        { stdio: ["ignore", log, log] },
      );
    } finally {
      fs.closeSync(log);
    }
    const child = this.nspawn;
    if (child.pid) fs.writeFileSync(path.join(this.dir, NSPAWN_PID_FILE), `${child.pid}\n`);
    this.exited = new Promise((resolve) => {
      child.once("exit", () => resolve());
      // A spawn failure (no "exit" follows) surfaces as "exited during boot": the console log says why.
      child.once("error", (err) => {
        fs.appendFileSync(this.consoleLog, `spawning systemd-nspawn: ${err.message}\n`);
        resolve();
      });
    });
  }

  private async waitForSsh(deadline: number): Promise<void> {
    let last = "";
    while (Date.now() < deadline) {
      if (!this.running()) throw new Error("systemd-nspawn exited during boot");
      const r = await this.exec("true", { timeoutMs: 10_000 });
      if (r.code === 0) {
        this.initPid = descendants(this.pid)[0] ?? 0;
        return;
      }
      last = r.stderr.trim();
      await sleep(100);
    }
    throw new Error(`sshd on ${this.address}:${this.sshPort} did not answer in time (last: ${last})`);
  }

  private async waitForPrometheus(deadline: number): Promise<void> {
    let last = "";
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`${this.prometheusUrl}/-/ready`, { signal: AbortSignal.timeout(2_000) });
        if (res.ok) return;
        last = `HTTP ${res.status}`;
      } catch (err) {
        last = String(err);
      }
      await sleep(200);
    }
    const status = await this.exec("systemctl status --no-pager --lines=20 prometheus.service", { timeoutMs: 10_000 });
    throw new Error(`Prometheus at ${this.prometheusUrl} not ready in time (last: ${last})\n${status.stdout}`);
  }
}

function resolvePrometheus(o: PrometheusOptions): PrometheusSettings {
  const s: PrometheusSettings = {
    externalLabels: o.externalLabels === undefined ? { cluster: "prom_vm" } : { ...(o.externalLabels ?? {}) },
    minBlockDuration: o.minBlockDuration ?? "2h",
    maxBlockDuration: o.maxBlockDuration ?? "2h",
    scrapeInterval: o.scrapeInterval ?? "15s",
    extraArgs: [...(o.extraArgs ?? [])],
  };
  // /etc/default/prometheus is read by systemd and split on whitespace by `$ARGS`: no quoting survives.
  for (const v of [s.minBlockDuration, s.maxBlockDuration, ...s.extraArgs]) {
    if (!/^[^\s"'\\$]+$/.test(v)) throw new Error(`Prometheus flag value not usable in ARGS=: ${JSON.stringify(v)}`);
  }
  return s;
}

/** prometheus.yml for the VM: it scrapes itself at `selfTarget`. */
function prometheusConfig(selfTarget: string, s: PrometheusSettings): string {
  return renderPrometheusConfig({ externalLabels: s.externalLabels, scrapeInterval: s.scrapeInterval, selfTarget });
}

function prometheusDefaults(listenAddress: string, s: PrometheusSettings): string {
  const args = [
    `--config.file=${PROMETHEUS_CONFIG_FILE}`,
    `--storage.tsdb.path=${PROMETHEUS_DATA_DIR}`,
    `--web.listen-address=${listenAddress}:${PROMETHEUS_PORT}`,
    `--storage.tsdb.min-block-duration=${s.minBlockDuration}`,
    `--storage.tsdb.max-block-duration=${s.maxBlockDuration}`,
    ...s.extraArgs,
  ];
  return `# Written by thanos-global-view sandbox/vm.ts\nARGS="${args.join(" ")}"\n`;
}

function checkAddress(address: string): void {
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (!m || m.slice(1).some((o) => Number(o) > 255) || address === "127.0.0.1") {
    // 127.0.0.1 is the host's own loopback: VM services there would collide with host services.
    throw new Error(`VM address must be a 127.0.0.0/8 host address other than 127.0.0.1: ${address}`);
  }
}

/** Host PIDs below pid, parents before children, from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // Exited meanwhile.
    }
    // The command name may contain spaces and parentheses: fields resume after the last ")".
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const out: number[] = [];
  const queue = [pid];
  for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/**
 * The tarball unpacked once beside it (the overlay's read-only lower layer). Unpacked into a temporary directory and
 * renamed, so a half-unpacked tree is never used; when two processes race, the loser drops its copy.
 */
async function extracted(tarball: string): Promise<string> {
  const dir = tarball.replace(/\.tar$/, "");
  if (dir === tarball) throw new Error(`not a .tar file: ${tarball}`);
  if (fs.existsSync(dir)) return dir;
  const tmp = fs.mkdtempSync(path.join(path.dirname(dir), ".extract-"));
  try {
    await run("tar", ["-C", tmp, "--numeric-owner", "--xattrs", "--xattrs-include=security.*", "-xf", tarball]);
    fs.renameSync(tmp, dir);
  } catch (err) {
    removeTree(tmp);
    if (!fs.existsSync(dir)) throw err;
  }
  return dir;
}

function mounted(dir: string): boolean {
  return fs.readFileSync("/proc/mounts", "utf8").split("\n").some((l) => l.split(" ")[1] === dir);
}

async function unmount(dir: string): Promise<void> {
  // A process still dying in the container may hold it briefly; a lazy unmount then detaches it anyway.
  if (mounted(dir)) await run("umount", [dir]).catch(() => run("umount", ["--lazy", dir]));
}

/** SIGKILL to nspawn alone would orphan the container: its processes are killed too, leaves first. */
function killAll(pids: number[]): void {
  for (const pid of [...pids].reverse()) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readPidFile(file: string): number | undefined {
  try {
    return Number(fs.readFileSync(file, "utf8").trim()) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes VM directories whose starting process has died (a killed test run), killing a container still in them,
 * so their addresses are free again. Directories of live processes, in this or another test run, are left alone.
 */
async function reapOrphans(workDir: string): Promise<void> {
  const killed: number[] = [];
  const dirs: string[] = [];
  for (const entry of fs.readdirSync(workDir)) {
    const dir = path.join(workDir, entry);
    const owner = readPidFile(path.join(dir, OWNER_FILE));
    if (owner === undefined || alive(owner)) continue;
    const nspawn = readPidFile(path.join(dir, NSPAWN_PID_FILE));
    if (nspawn !== undefined && readCmdline(nspawn).includes(`${dir}/`)) {
      const pids = [nspawn, ...descendants(nspawn)];
      killAll(pids);
      killed.push(...pids);
    }
    dirs.push(dir);
  }
  // Until the killed sshd and Prometheus are gone their ports stay taken.
  for (let i = 0; i < 50 && killed.some(alive); i++) await sleep(100);
  for (const dir of dirs) {
    await unmount(path.join(dir, "rootfs"));
    removeTree(dir);
  }
}

/** rm refusing to cross into another file system, in case something is still mounted below. */
function removeTree(dir: string): void {
  const r = spawnSync("rm", ["-rf", "--one-file-system", "--", dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`removing ${dir} failed: ${r.stderr}`);
}

async function run(cmd: string, args: string[]): Promise<void> {
  const result = await runCommand(cmd, args);
  if (result.code !== 0) throw new Error(`${cmd} failed (${result.signal ?? result.code}): ${result.stderr}`);
}

function readComm(pid: number): string {
  return readProc(pid, "comm").trim();
}

function readCmdline(pid: number): string {
  return readProc(pid, "cmdline").replaceAll("\0", " ");
}

function readProc(pid: number, file: string): string {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return "";
  }
}

/** Whether p settles within ms; the timer is cleared so it never holds the process open. */
function within(p: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void p.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Runs one command over ssh with the given arguments (the destination last), feeding stdin. Resolves with the exit
 * code and output; rejects only when ssh cannot run or outlives the timeout.
 */
export async function runSsh(args: readonly string[], command: string, opts: ExecOptions = {}): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const result = await runCommand("ssh", [...args, "--", command], { stdin: opts.stdin, timeoutMs });
  if (result.code === null) throw new Error(`ssh ${args.at(-1)} killed by ${result.signal} after ${timeoutMs} ms; stderr so far:\n${result.stderr}`);
  return { code: result.code, stdout: result.stdout, stderr: result.stderr };
}
