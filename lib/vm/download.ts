import type { ThanosDownload } from "../config";

/** The CPU architectures Thanos publishes Linux releases for, as it names them. */
type ThanosArch = "amd64" | "arm64";

/** Where one arch's release comes from and how it is checked. */
interface ThanosSource {
  tarballUrl: string;
  sha256sumsUrl: string;
  /** The release's file name, as listed in sha256sums.txt (a mirror may serve it under another URL). */
  tarballName: string;
  /** The tarball's only member: <dir>/thanos. */
  binaryMember: string;
  /** Pinned checksum; empty means "look it up in sha256sumsUrl". */
  pinnedSha256: string;
}

const VERSION = /^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$/;
const SHA256 = /^[0-9a-f]{64}$/;

function assertThanosVersion(version: string): void {
  if (!VERSION.test(version)) throw new Error(`"${version}" is not a Thanos release version such as 0.42.4`);
}

function expand(template: string, version: string, arch: ThanosArch): string {
  return template.replace(/\{version\}/g, version).replace(/\{arch\}/g, arch);
}

function thanosSource(version: string, arch: ThanosArch, download: ThanosDownload): ThanosSource {
  assertThanosVersion(version);
  const pinned = download.sha256?.[arch] ?? "";
  if (pinned !== "" && !SHA256.test(pinned)) throw new Error(`pinned sha256 for ${arch} must be 64 lower-case hex digits`);
  const dir = `thanos-${version}.linux-${arch}`;
  return {
    tarballUrl: expand(download.urlTemplate, version, arch),
    sha256sumsUrl: expand(download.sha256sumsUrlTemplate, version, arch),
    tarballName: `${dir}.tar.gz`,
    binaryMember: `${dir}/thanos`,
    pinnedSha256: pinned,
  };
}

export function thanosSources(version: string, download: ThanosDownload): Record<ThanosArch, ThanosSource> {
  return { amd64: thanosSource(version, "amd64", download), arm64: thanosSource(version, "arm64", download) };
}
