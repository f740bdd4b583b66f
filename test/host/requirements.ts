/**
 * What the host suite needs beyond Node: root, and Debian packages (test/build/install-host-packages installs them).
 * Each test file asks for what it needs before its tests run; what is missing fails them with what to do.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";

export function requireRoot(why: string): void {
  assert.equal(process.getuid?.(), 0, `needs root (${why}): run npm run test:host as root`);
}

export function requireTool(tool: string, aptPackage: string): void {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
  } catch {
    assert.fail(`${tool} is not installed: apt-get install -y --no-install-recommends ${aptPackage} (or run test/build/install-host-packages)`);
  }
}
