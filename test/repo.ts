/** The one place that knows where the repository is: everything under test/ finds the project and its files here. */
import * as path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "..");

/** A path inside the repository, e.g. repoPath("test", "build", "build-thanos"). */
export function repoPath(...parts: string[]): string {
  return path.join(REPO_ROOT, ...parts);
}
