/**
 * The one way the tests and the rig run a program to completion: output collected (and optionally streamed by line),
 * stdin fed, a timeout or a signal. No side effects at import, so the quick unit tests can use it too.
 */
import { spawn } from "node:child_process";

export interface RunCommandOptions {
  stdin?: string | Buffer;
  cwd?: string;
  /** The whole environment; default this process' own. */
  env?: NodeJS.ProcessEnv;
  /** SIGKILL after this long; the result then has signal SIGKILL. */
  timeoutMs?: number;
  /** Pass stderr through to this process' stderr instead of collecting it (a build's progress). */
  inheritStderr?: boolean;
  /** Each line of output (stdout and stderr) as it arrives, e.g. to show `pulumi up` live. */
  onLine?: (line: string) => void;
  /** Send this signal after a while, e.g. to interrupt a script mid-change. */
  signal?: { name: NodeJS.Signals; afterMs: number };
}

export interface CommandResult {
  /** null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/**
 * The one way the rig runs a program to completion: output collected (and optionally streamed by line), stdin fed,
 * a timeout. Rejects only when the program cannot be started; its exit code is the caller's to judge.
 */
export function runCommand(command: string, args: readonly string[], options: RunCommandOptions = {}): Promise<CommandResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ["pipe", "pipe", options.inheritStderr ? "inherit" : "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let pending = "";
    const collect = (stream: "stdout" | "stderr") => (chunk: string) => {
      if (stream === "stdout") stdout += chunk;
      else stderr += chunk;
      if (!options.onLine) return;
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) options.onLine(line);
    };
    child.stdout!.setEncoding("utf8").on("data", collect("stdout"));
    child.stderr?.setEncoding("utf8").on("data", collect("stderr"));
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    const { signal } = options;
    if (signal) setTimeout(() => child.kill(signal.name), signal.afterMs).unref();
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`${command} could not be started: ${error.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (pending && options.onLine) options.onLine(pending);
      resolve({ code, signal, stdout, stderr, durationMs: Date.now() - started });
    });
    // The program may exit without reading its input.
    child.stdin!.on("error", () => undefined);
    child.stdin!.end(options.stdin ?? "");
  });
}

