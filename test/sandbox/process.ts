// Long-running programs of the sandbox (MinIO, Prometheus, Thanos, etcd, kube-apiserver) as host processes: each
// gets its own process group (so stopping it also stops anything it forked) and a log file under the run directory
// (so tests can grep what a program printed, e.g. to prove a secret never appears). A registry stops everything in
// an `after()` hook, and a last-resort exit handler kills whatever a crashed test left behind.
import { spawn, type ChildProcess } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT } from "../repo";
import { runCommand } from "../harness/command";
import { httpRequest } from "./ports";


/**
 * Runs a project script that prints its result on stdout (test/build/build-*, test/build/toolchain) and resolves to
 * that stdout. Its stderr passes through: a cold build takes minutes, and its log says why.
 */
export async function runForStdout(command: string, args: readonly string[] = []): Promise<string> {
  const result = await runCommand(command, args, { cwd: REPO_ROOT, inheritStderr: true });
  if (result.code !== 0) throw new Error(`${path.relative(REPO_ROOT, command) || command} failed (${result.signal ?? `exit ${result.code}`}); its log is above`);
  return result.stdout;
}

/** A fresh directory for one run's logs, data and configs: <repo>/.sandbox/runs/<label>-<time>-<random> (git-ignored). */
export function createRunDir(label: string, parent = path.join(REPO_ROOT, ".sandbox", "runs")): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
  const dir = path.join(parent, `${label}-${stamp}-${crypto.randomBytes(3).toString("hex")}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export interface StartProcessOptions {
  /** Short name used in errors and as the log file's name. */
  name: string;
  command: string;
  args: readonly string[];
  /** Output (stdout and stderr) is appended here; a restart appends to the same file. */
  logFile: string;
  /** Added to the parent's environment. */
  env?: Record<string, string>;
  /** Tracked here so `registry.stopAll()` stops it. */
  registry?: ProcessRegistry;
  /**
   * What stop() sends first; default SIGTERM. SIGKILL for a program whose state is thrown away anyway and whose
   * graceful shutdown only costs time (the sandbox cluster's etcd and API server).
   */
  stopSignal?: NodeJS.Signals;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Pids of every process group still running, for the exit handler. */
const liveGroups = new Set<number>();
/** Synchronous cleanups of what killing the groups does not undo (the sandbox cluster's changes to the machine). */
const exitCleanups = new Map<string, () => void>();
const killLiveGroups = () => {
  for (const pid of liveGroups) signalGroup(pid, "SIGKILL");
  for (const [name, cleanup] of exitCleanups) {
    exitCleanups.delete(name);
    try {
      cleanup();
    } catch (error) {
      process.stderr.write(`[sandbox] cleanup of ${name} on exit failed: ${(error as Error).message}\n`);
    }
  }
};

/**
 * Runs `cleanup` (synchronously) if this process exits or is interrupted (SIGINT, SIGTERM, SIGHUP) while it is
 * registered, after the live process groups are killed. Returns the function that unregisters it, for once the
 * cleanup has run the normal way.
 */
export function onExitCleanup(name: string, cleanup: () => void): () => void {
  exitCleanups.set(name, cleanup);
  return () => exitCleanups.delete(name);
}
process.on("exit", killLiveGroups);
// Our groups are detached, so a Ctrl-C or the test runner's SIGTERM would not reach them, and signals skip "exit".
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    killLiveGroups();
    process.kill(process.pid, signal);
  });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

export class ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly command: string;
  /** Settles when the program exits, however that happens. */
  readonly exited: Promise<ExitStatus>;
  private exitStatus: ExitStatus | undefined;
  private readonly stopSignal: NodeJS.Signals;

  constructor(options: StartProcessOptions, child: ChildProcess) {
    this.name = options.name;
    this.stopSignal = options.stopSignal ?? "SIGTERM";
    this.command = options.command;
    this.logFile = options.logFile;
    if (child.pid === undefined) throw new Error(`${this.name}: could not start ${this.command} (missing or not executable?)`);
    this.pid = child.pid;
    liveGroups.add(this.pid);
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exitStatus = { code, signal };
        liveGroups.delete(this.pid);
        resolve(this.exitStatus);
      });
    });
  }

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  /** How it ended, once it has: "exit code 1" / "signal SIGKILL". */
  describeExit(): string {
    if (!this.exitStatus) return "still running";
    return this.exitStatus.signal ? `signal ${this.exitStatus.signal}` : `exit code ${this.exitStatus.code}`;
  }

  /** The last `lines` lines of its log. */
  logTail(lines = 30): string {
    return tailOfFile(this.logFile, lines);
  }

  /**
   * SIGTERM (or the stop signal it was started with) to the group; SIGKILL once `graceMs` has passed. Resolves when
   * it has exited (at once if it already had); when it was stopped here, anything it forked that outlived it is
   * killed too.
   */
  async stop(graceMs = 10_000): Promise<ExitStatus> {
    if (this.running) {
      signalGroup(this.pid, this.stopSignal);
      const timer = setTimeout(() => signalGroup(this.pid, "SIGKILL"), graceMs);
      try {
        await this.exited;
      } finally {
        clearTimeout(timer);
      }
      signalGroup(this.pid, "SIGKILL");
    }
    return this.exited;
  }
}

/** Starts `command args` in its own process group, output appended to `logFile`. */
export function startProcess(options: StartProcessOptions): ManagedProcess {
  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  const log = fs.openSync(options.logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(options.command, [...options.args], {
      env: { ...process.env, ...options.env },
      stdio: ["ignore", log, log],
      detached: true,
    });
  } finally {
    fs.closeSync(log);
  }
  // A missing binary surfaces as an 'error' event and no pid; the constructor turns that into an exception.
  child.on("error", (error) => fs.appendFileSync(options.logFile, `[sandbox] spawn error: ${error.message}\n`));
  const managed = new ManagedProcess(options, child);
  options.registry?.track(managed);
  return managed;
}

/** The last lines of a log file, or a note that there is none. */
export function tailOfFile(file: string, lines = 30): string {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return `(no log at ${file})`;
  }
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

export interface WaitForHttpOptions {
  /** Default 60 s. */
  timeoutMs?: number;
  /** Fail fast if it exits, and put its log tail into the error. */
  process?: ManagedProcess;
}

/** Polls `url` until it answers 2xx; the timeout error names the URL, the last answer and the log tail. */
export async function waitForHttp(url: string, options: WaitForHttpOptions = {}): Promise<void> {
  const { timeoutMs = 60_000, process: managed } = options;
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  for (;;) {
    if (managed && !managed.running) {
      throw new Error(`${managed.name} exited (${managed.describeExit()}) before ${url} answered; last log lines:\n${managed.logTail()}`);
    }
    try {
      const response = await httpRequest({ url, timeoutMs: Math.max(500, Math.min(2_000, deadline - Date.now())) });
      if (response.status >= 200 && response.status < 300) return;
      last = `HTTP ${response.status}: ${response.body.toString("utf8").trim().slice(0, 300)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() >= deadline) {
      const who = managed ? `${managed.name}: ` : "";
      const tail = managed ? `; last log lines:\n${managed.logTail()}` : "";
      throw new Error(`${who}${url} not ready after ${timeoutMs} ms (last: ${last})${tail}`);
    }
    await sleep(250);
  }
}

/** Starts a program and waits until `readyUrl` answers 2xx; if it does not in time, stops it and throws (with its log tail). */
export async function startUntilReady(options: StartProcessOptions, readyUrl: string, timeoutMs = 60_000): Promise<ManagedProcess> {
  const managed = startProcess(options);
  try {
    await waitForHttp(readyUrl, { process: managed, timeoutMs });
  } catch (error) {
    await managed.stop();
    throw error;
  }
  return managed;
}

/** Polls `check` until it returns a value other than undefined; the timeout error says what was awaited. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000, intervalMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = ` (last error: ${(error as Error).message})`;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError}`);
    await sleep(intervalMs);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Files under `dir` (recursively) whose contents include `needle`, e.g. to prove a secret is in no log; directories
 * in `skip` are not entered.
 */
export function filesContaining(dir: string, needle: string, skip: readonly string[] = []): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory() && !skip.includes(file)) found.push(...filesContaining(file, needle, skip));
    else if (entry.isFile() && fs.readFileSync(file).includes(needle)) found.push(file);
  }
  return found;
}

/** Pids of running processes whose command line includes `text` (e.g. a run directory: anything left behind?). */
export function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`).includes(text)) pids.push(Number(entry));
    } catch {
      // It exited while we looked.
    }
  }
  return pids;
}

/** What an `after()` hook stops: tracked processes and other cleanups (servers), undone in reverse order. */
export class ProcessRegistry {
  private readonly cleanups: { name: string; run: () => Promise<unknown> }[] = [];

  track(managed: ManagedProcess): ManagedProcess {
    this.cleanups.push({ name: managed.name, run: () => managed.stop() });
    return managed;
  }

  /** Runs `cleanup` in `stopAll()`, e.g. closing an HTTP server. */
  defer(name: string, cleanup: () => Promise<unknown>): void {
    this.cleanups.push({ name, run: cleanup });
  }

  /** Stops everything, newest first; every cleanup runs even if one fails, and the failures are thrown together. */
  async stopAll(): Promise<void> {
    const failures: string[] = [];
    while (this.cleanups.length > 0) {
      const cleanup = this.cleanups.pop()!;
      try {
        await cleanup.run();
      } catch (error) {
        failures.push(`${cleanup.name}: ${(error as Error).message}`);
      }
    }
    if (failures.length > 0) throw new Error(`sandbox cleanup failed:\n${failures.join("\n")}`);
  }
}
