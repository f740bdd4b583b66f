/** Thanos release versions and what each one's flags allow. */

export interface ThanosVersion {
  major: number;
  minor: number;
  patch: number;
  /** Canonical form without a leading "v", e.g. "0.42.4". */
  text: string;
}

const VERSION_PATTERN = /^v?(\d+)\.(\d+)\.(\d+)$/;

/** The newest release at the time of writing; the stack's default. */
export const DEFAULT_THANOS_VERSION = "0.42.4";

/** `--endpoint` arrived in 0.24.0; older queriers only know the removed `--store`. */
export const OLDEST_SUPPORTED = "0.24.0";

export function parseThanosVersion(text: string): ThanosVersion | undefined {
  const match = VERSION_PATTERN.exec(text.trim());
  if (!match) return undefined;
  const [major, minor, patch] = match.slice(1, 4).map(Number);
  return { major, minor, patch, text: `${major}.${minor}.${patch}` };
}

function compareVersions(a: ThanosVersion, b: ThanosVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

function atLeast(version: ThanosVersion, minimum: string): boolean {
  return compareVersions(version, parseThanosVersion(minimum)!) >= 0;
}

export function isSupported(version: ThanosVersion): boolean {
  return version.major === 0 && atLeast(version, OLDEST_SUPPORTED);
}

/**
 * How the querier is told its endpoints. `--endpoint` is deprecated from 0.38 but still works; from 0.42 the
 * sd-config also carries per-endpoint TLS, so that is where we switch.
 */
export function endpointStyle(version: ThanosVersion): "flags" | "sd-config" {
  return atLeast(version, "0.42.0") ? "sd-config" : "flags";
}

/** Per-endpoint client TLS in the sd-config exists from 0.42.0 (#8594); its key moved later, see clientConfigKey. */
export function supportsPerEndpointTls(version: ThanosVersion): boolean {
  return atLeast(version, "0.42.0");
}
