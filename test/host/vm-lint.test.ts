/**
 * Static checks with Debian's own tools on everything the VM receives: shellcheck on the VM scripts as files (their
 * line numbers are the sources') and on each rendered script, systemd-analyze verify and security on the unit. The
 * project's own scripts (builds, sandbox, CI, test fakes) get shellcheck too. bash -n and sh -n, which need no
 * package, are in test/unit/vm-syntax.test.ts.
 *
 * Needs shellcheck and systemd (systemd-analyze, and the system's units in /usr/lib/systemd/system).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { parseThanosVersion } from "../../lib/thanosVersion";
import { UNIT_PATH, thanosBinaryPath } from "../../lib/vm/paths";
import { renderSidecarUnit } from "../../lib/vm/unit";
import { REPO_ROOT, repoPath } from "../repo";
import { runCommand } from "../harness/command";
import { SCRIPT_VARIANTS, STACK, VM, writeRenderedScripts } from "../harness/vm";
import { requireTool } from "./requirements";

/** The .sh files under a directory, recursively. */
function shellFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".sh"))
    .map((name) => path.join(dir, name))
    .sort();
}

async function assertShellcheckClean(file: string): Promise<void> {
  // -x follows `source`, so helpers are checked as their callers use them.
  const lint = await runCommand("shellcheck", ["-x", "--severity=style", file], { cwd: path.dirname(file) });
  assert.equal(lint.code, 0, `shellcheck ${path.relative(REPO_ROOT, file)}:\n${lint.stdout}${lint.stderr}`);
}

/** A suite that shellchecks each of `files`, after checking it found the `expected` ones (repository paths). */
function describeShellcheckOf(title: string, files: string[], expected: string[]): void {
  describe(title, () => {
    before(() => requireTool("shellcheck", "shellcheck"));

    it("finds the scripts it lints", () => {
      const names = files.map((file) => path.relative(REPO_ROOT, file));
      for (const name of expected) assert.ok(names.includes(name), `${name} not among ${names.join(", ")}`);
    });

    for (const file of files) it(path.relative(REPO_ROOT, file), () => assertShellcheckClean(file));
  });
}

describeShellcheckOf("the VM scripts pass shellcheck as files", shellFiles(repoPath("lib", "vm", "scripts")), [
  "lib/vm/scripts/install.sh",
  "lib/vm/scripts/lib/prelude.sh",
  "lib/vm/scripts/values/sidecar.sh",
]);

describe("the rendered VM scripts pass shellcheck", () => {
  let dir = "";
  before(() => {
    requireTool("shellcheck", "shellcheck");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tgv-lint-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const [name, variant] of Object.entries(SCRIPT_VARIANTS)) {
    it(name, async () => {
      for (const { kind, file } of writeRenderedScripts(dir, variant)) {
        const lint = await runCommand("shellcheck", ["--severity=style", file]);
        assert.equal(lint.code, 0, `shellcheck ${kind}:\n${lint.stdout}${lint.stderr}`);
      }
    });
  }
});

const buildDir = repoPath("test", "build");
describeShellcheckOf(
  "the project's own shell scripts pass shellcheck",
  [
    ...fs
      .readdirSync(buildDir, { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => path.join(buildDir, entry.name)),
    ...fs.readdirSync(path.join(buildDir, "lib")).map((name) => path.join(buildDir, "lib", name)),
    ...shellFiles(repoPath("test", "host", "fakes")),
    repoPath(".ci", "run"),
  ],
  ["test/build/toolchain", "test/build/build-thanos", "test/build/lib/go-build.sh", "test/host/fakes/systemd.sh", ".ci/run"],
);

describe("the sidecar unit passes systemd-analyze", () => {
  let root = "";
  before(() => {
    requireTool("systemd-analyze", "systemd");
    // A scratch root holding the system's units (for default dependencies) and a stub at the binary's path.
    root = fs.mkdtempSync(path.join(os.tmpdir(), "tgv-unit-"));
    fs.cpSync("/usr/lib/systemd/system", path.join(root, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
    fs.mkdirSync(path.join(root, path.dirname(UNIT_PATH)), { recursive: true });
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  function writeUnit(unit: Parameters<typeof renderSidecarUnit>): void {
    const binary = path.join(root, thanosBinaryPath(unit[1].thanosVersion.text));
    fs.mkdirSync(path.dirname(binary), { recursive: true });
    fs.writeFileSync(binary, "#!/bin/sh\n", { mode: 0o755 });
    fs.writeFileSync(path.join(root, UNIT_PATH), renderSidecarUnit(...unit));
  }

  const cases: Record<string, Parameters<typeof renderSidecarUnit>> = {
    plain: [VM, STACK, "prometheus"],
    "TLS, TSDB under /home with a space and a $": [
      { ...VM, tsdbPath: "/home/prom/tsdb $1", bindAddress: "::", prometheusUrl: "http://h:9090/a%20b" },
      { thanosVersion: parseThanosVersion("0.34.1")!, tls: true },
      "prom",
    ],
  };
  for (const [name, unit] of Object.entries(cases)) {
    it(`verify: ${name}`, async () => {
      writeUnit(unit);
      const result = await runCommand("systemd-analyze", ["verify", "--man=no", `--root=${root}`, UNIT_PATH]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr.trim(), "", "verify printed warnings");
    });
  }

  it("security: overall exposure at most 2.0 (OK)", async () => {
    writeUnit(cases.plain);
    const result = await runCommand("systemd-analyze", ["security", "--offline=true", `--root=${root}`, "--threshold=20", UNIT_PATH]);
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
    const exposure = /Overall exposure level for thanos-sidecar\.service: (\d+\.\d+)/.exec(result.stdout);
    assert.ok(exposure, result.stdout);
    assert.ok(Number(exposure[1]) <= 2.0, `exposure ${exposure[1]}`);
  });
});
