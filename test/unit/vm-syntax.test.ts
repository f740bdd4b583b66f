/**
 * The syntax checks that need nothing beyond bash and sh: bash -n on the VM scripts as files and as rendered, and
 * sh -n on each command line (the SSH user's login shell parses it first). shellcheck and systemd-analyze, Debian
 * packages, are in test/host/vm-lint.test.ts.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { repoPath } from "../repo";
import { runCommand } from "../harness/command";
import { SCRIPT_VARIANTS, writeRenderedScripts } from "../harness/vm";

describe("the VM scripts pass bash -n as files", () => {
  const dir = repoPath("lib", "vm", "scripts");
  const files = fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((name) => name.endsWith(".sh"));

  it("finds the scripts it checks", () => {
    for (const expected of ["install.sh", "delete.sh", "prometheus-setup.sh", "lib/prelude.sh", "values/sidecar.sh"]) {
      assert.ok(files.includes(expected), `${expected} not among ${files.join(", ")}`);
    }
  });

  for (const file of files) {
    it(file, async () => {
      const syntax = await runCommand("bash", ["-n", path.join(dir, file)]);
      assert.equal(syntax.code, 0, `bash -n ${file}: ${syntax.stderr}`);
    });
  }
});

describe("the rendered VM scripts pass bash -n, their command lines sh -n", () => {
  let dir = "";
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tgv-syntax-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const [name, variant] of Object.entries(SCRIPT_VARIANTS)) {
    it(name, async () => {
      for (const { kind, command, file } of writeRenderedScripts(dir, variant)) {
        const syntax = await runCommand("bash", ["-n", file]);
        assert.equal(syntax.code, 0, `bash -n ${kind}: ${syntax.stderr}`);
        const login = await runCommand("sh", ["-n", "-c", command]);
        assert.equal(login.code, 0, `sh -n on the ${kind} command line: ${login.stderr}`);
      }
    });
  }
});
