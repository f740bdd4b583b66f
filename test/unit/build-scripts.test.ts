/**
 * The build scripts' behaviour that needs no build: what a step prints (test/build/lib/go-build.sh's gb_step), and the
 * toolchain's check of the command provider's source release, which must fail before anything is built.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { repoPath } from "../repo";

const COMMAND_SOURCE = "shared/third_party/pulumi-command-1.2.1-src.tar.gz";

function bash(script: string, env: Record<string, string>, cwd?: string) {
  const result = spawnSync("bash", ["-c", script, "build-test"], {
    cwd,
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("a build step (gb_step)", () => {
  let dir = "";
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tgv-step-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const lib = repoPath("test", "build", "lib", "go-build.sh");
  const logFile = () => path.join(dir, "thanos-global-view", "logs", "demo.log");

  it("prints one line when it starts and one with its time, its programs' output only in its log", () => {
    const chatter = Array.from({ length: 50 }, (_, i) => `go: downloading example.com/m${i} v1.0.0`).join("\n");
    const script = `set -euo pipefail; source ${lib}
      work() { printf '%s\\n' "$1" >&2; echo to-stdout; }
      gb_step "building the demo" demo "minutes the first time" work '${chatter}'
      echo RESULT`;
    const result = bash(script, { XDG_CACHE_HOME: dir, HOME: dir });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "RESULT\n", "a step wrote to stdout");
    const lines = result.stderr.trimEnd().split("\n");
    assert.deepEqual(lines, [
      "build-test: building the demo, minutes the first time; log: ~/thanos-global-view/logs/demo.log",
      "build-test: building the demo: done in 0s",
    ]);
    assert.equal(fs.readFileSync(logFile(), "utf8"), `${chatter}\nto-stdout\n`);
  });

  it("shows the end of its log when it fails, and exits with the failure", () => {
    const script = `set -euo pipefail; source ${lib}
      work() { seq 1 100; echo "the real error" >&2; return 3; }
      gb_step "building the demo" demo "minutes the first time" work
      echo NOT-REACHED`;
    const result = bash(script, { XDG_CACHE_HOME: dir, HOME: dir });
    assert.equal(result.code, 3);
    assert.equal(result.stdout, "");
    const lines = result.stderr.trimEnd().split("\n");
    assert.equal(lines[0], "build-test: building the demo, minutes the first time; log: ~/thanos-global-view/logs/demo.log");
    assert.equal(lines[1], "build-test: building the demo: failed after 0s; the end of ~/thanos-global-view/logs/demo.log:");
    // The last 40 lines, indented: 62 to 100, then the error.
    assert.deepEqual(lines.slice(2), [...Array.from({ length: 39 }, (_, i) => `    ${i + 62}`), "    the real error"]);
  });
});

describe("test/build/toolchain and the command provider's source release", () => {
  let root = "";
  let project = "";
  before(() => {
    // A copy of the scripts in a project directory of its own, with the shared directory beside it.
    root = fs.mkdtempSync(path.join(os.tmpdir(), "tgv-toolchain-"));
    project = path.join(root, "project");
    fs.cpSync(repoPath("test", "build"), path.join(project, "test", "build"), { recursive: true });
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  const toolchain = () =>
    bash(`${path.join(project, "test", "build", "toolchain")} --only command`, { XDG_CACHE_HOME: path.join(root, "cache") }, project);
  const nothingBuilt = () => assert.ok(!fs.existsSync(path.join(root, "cache", "thanos-global-view", "pulumi")), "a build started");

  it("names the missing tarball and builds nothing", () => {
    const result = toolchain();
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(
      result.stderr,
      new RegExp(`^toolchain: error: the command provider's source release \\.\\./${COMMAND_SOURCE.replaceAll(".", "\\.")} is missing \\(relative to the project root: `),
    );
    nothingBuilt();
  });

  it("refuses a tarball with another checksum and builds nothing", () => {
    const tarball = path.join(root, COMMAND_SOURCE);
    fs.mkdirSync(path.dirname(tarball), { recursive: true });
    fs.writeFileSync(tarball, "not the release\n");
    const result = toolchain();
    assert.equal(result.code, 1);
    assert.match(result.stderr, /has sha256 [0-9a-f]{64}, not the pinned aa296005008475babb795c1c36337ff03e712bccf312ca04e2dab338b7a6a7be: not building from it/);
    nothingBuilt();
  });
});
