// A stand-in for GitHub's release downloads: serves Thanos release tarballs and sha256sums.txt under GitHub's URL
// scheme on loopback, so the VM install script downloads and verifies exactly as it would in production. It records
// every request (a re-run that downloads nothing is provable) and can be told to serve a corrupted tarball or wrong
// checksums for a version (fault tests).
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { LOOPBACK } from "./ports";
import type { ProcessRegistry } from "./process";

/** A directory as `test/build/build-thanos <version>` prints it: thanos-<v>.linux-<arch>.tar.gz files and sha256sums.txt. */
export interface ThanosRelease {
  version: string;
  dir: string;
}

/**
 * - `corrupt-tarball`: the tarball's bytes are altered (same length), so its sha256 no longer matches.
 * - `wrong-sha256sums`: sha256sums.txt lists a different hash for every tarball.
 */
export type MirrorFault = "corrupt-tarball" | "wrong-sha256sums";

export interface MirrorRequest {
  method: string;
  path: string;
  status: number;
  /** The release version the path names, if any. */
  version?: string;
  /** "tarball" or "sha256sums" for release files. */
  file?: "tarball" | "sha256sums";
}

export interface StartMirrorOptions {
  releases: readonly ThanosRelease[];
  /** Closed by `registry.stopAll()`. */
  registry?: ProcessRegistry;
  /** The address it listens on; default 127.0.0.1 (the sandbox cluster's bridge address, for the VM on it). */
  host?: string;
}

const RELEASE_PATH = /^\/thanos-io\/thanos\/releases\/download\/v([^/]+)\/([^/]+)$/;
const TARBALL = /^thanos-(.+)\.linux-[a-z0-9]+\.tar\.gz$/;

export class ThanosMirror {
  /** http://127.0.0.1:<port> */
  readonly baseUrl: string;
  /** For the stack's `thanosDownload.urlTemplate`. */
  readonly urlTemplate: string;
  /** For the stack's `thanosDownload.sha256sumsUrlTemplate`. */
  readonly sha256sumsUrlTemplate: string;
  private readonly releases = new Map<string, string>();
  private readonly faults = new Map<string, MirrorFault>();
  private readonly log: MirrorRequest[] = [];

  constructor(private readonly server: http.Server, releases: readonly ThanosRelease[]) {
    const { address, port } = server.address() as AddressInfo;
    this.baseUrl = `http://${address}:${port}`;
    const download = `${this.baseUrl}/thanos-io/thanos/releases/download/v{version}`;
    this.urlTemplate = `${download}/thanos-{version}.linux-{arch}.tar.gz`;
    this.sha256sumsUrlTemplate = `${download}/sha256sums.txt`;
    for (const release of releases) this.addRelease(release);
    server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => this.serve(req, res));
  }

  addRelease(release: ThanosRelease): void {
    const version = release.version.replace(/^v/, "");
    if (!fs.existsSync(path.join(release.dir, "sha256sums.txt"))) {
      throw new Error(`no sha256sums.txt in ${release.dir}: not a directory printed by test/build/build-thanos ${version}`);
    }
    this.releases.set(version, release.dir);
  }

  /** The tarball's URL for `version` and `arch` (default amd64), as the install script computes it. */
  tarballUrl(version: string, arch = "amd64"): string {
    return this.urlTemplate.replaceAll("{version}", version).replaceAll("{arch}", arch);
  }

  /** Serves `version` wrongly from now on (`undefined` restores it). */
  setFault(version: string, fault: MirrorFault | undefined): void {
    if (fault) this.faults.set(version, fault);
    else this.faults.delete(version);
  }

  /** Every request so far, oldest first. */
  requests(): MirrorRequest[] {
    return [...this.log];
  }

  /** Successful tarball downloads (optionally of one version). */
  downloads(version?: string): MirrorRequest[] {
    return this.log.filter(
      (r) => r.file === "tarball" && r.method === "GET" && r.status === 200 && (version === undefined || r.version === version),
    );
  }

  clearRequests(): void {
    this.log.length = 0;
  }

  async stop(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve, reject) => this.server.close((error) => (error ? reject(error) : resolve())));
    this.server.closeAllConnections();
    await closed;
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const method = req.method ?? "GET";
    const urlPath = new URL(req.url ?? "/", this.baseUrl).pathname;
    const record: MirrorRequest = { method, path: urlPath, status: 404 };
    this.log.push(record);
    const answer = (status: number, body: Buffer | string, type = "text/plain; charset=utf-8") => {
      record.status = status;
      res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
      res.end(method === "HEAD" ? undefined : body);
    };

    const match = RELEASE_PATH.exec(urlPath);
    if (method !== "GET" && method !== "HEAD") return answer(405, "method not allowed\n");
    if (!match) return answer(404, "Not Found\n");
    const [, version = "", file = ""] = match;
    record.version = version;
    const dir = this.releases.get(version);
    if (!dir) return answer(404, "Not Found\n");
    const fault = this.faults.get(version);

    if (file === "sha256sums.txt") {
      record.file = "sha256sums";
      const sums = fs.readFileSync(path.join(dir, file), "utf8");
      return answer(200, fault === "wrong-sha256sums" ? falsifySha256sums(sums) : sums);
    }
    if (TARBALL.exec(file)?.[1] === version) {
      record.file = "tarball";
      const tarball = path.join(dir, file);
      if (!fs.existsSync(tarball)) return answer(404, "Not Found\n");
      const bytes = fs.readFileSync(tarball);
      return answer(200, fault === "corrupt-tarball" ? corrupt(bytes) : bytes, "application/octet-stream");
    }
    return answer(404, "Not Found\n");
  }
}

/** Every hash replaced by the sha256 of itself: well-formed, but matching no file. */
function falsifySha256sums(sums: string): string {
  return sums.replace(/^[0-9a-f]{64}/gm, (hash) => crypto.createHash("sha256").update(hash).digest("hex"));
}

/** A copy with a run of bytes in the middle inverted. */
function corrupt(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  const middle = Math.floor(copy.length / 2);
  for (let i = middle; i < Math.min(copy.length, middle + 64); i++) copy[i] = copy[i] ^ 0xff;
  return copy;
}

/** Starts the mirror (on 127.0.0.1 unless told otherwise) at a port the kernel picks. */
export async function startThanosMirror(options: StartMirrorOptions): Promise<ThanosMirror> {
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, options.host ?? LOOPBACK, resolve);
  });
  let mirror: ThanosMirror;
  try {
    mirror = new ThanosMirror(server, options.releases);
  } catch (error) {
    // A release directory without its sha256sums.txt: close the listening server, or it keeps the run alive.
    await new Promise((resolve) => server.close(resolve));
    throw error;
  }
  options.registry?.defer("thanos mirror", () => mirror.stop());
  return mirror;
}
