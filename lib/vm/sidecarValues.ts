import { sidecarReadyUrl } from "../address";
import { thanosSources } from "./download";
import { PAYLOAD_MAGIC } from "./payload";
import {
  CONFIG_DIR,
  INSTALL_ROOT,
  LOCK_PATH,
  OWNER_MARKER_PATH,
  UNIT_NAME,
  UNIT_PATH,
  WORK_ROOT,
  thanosBinaryPath,
  thanosVersionDir,
} from "./paths";
import type { ScriptValues } from "./shell";
import type { ThanosDownload, VmSidecarSettings } from "./types";
import { renderSidecarUnit } from "./unit";

/** Everything the sidecar's preflight, install and delete scripts are rendered from. */
export interface SidecarScriptInput {
  settings: VmSidecarSettings;
  thanos: { version: string; download: ThanosDownload };
  /** Whether the sidecar serves gRPC with TLS (the payload then carries the CA, cert and key). */
  tls: boolean;
  /** Identifies the stack resource that installs the sidecar; see ownershipToken. */
  owner: { token: string; label: string };
}

/** Stands for the sidecar's user in the unit: the script puts in the user it resolves on the VM. */
const UNIT_USER_PLACEHOLDER = "__THANOS_GLOBAL_VIEW_SIDECAR_USER__";

/** The values of a VM's sidecar scripts (install, delete, preflight), as scripts/values/sidecar.sh declares them. */
export function sidecarScriptValues(input: SidecarScriptInput): ScriptValues {
  const { settings, thanos } = input;
  const sources = thanosSources(thanos.version, thanos.download);
  return {
    VM_NAME: settings.name,
    PROMETHEUS_URL: settings.prometheusUrl,
    TSDB_PATH: settings.tsdbPath,
    RUN_AS: settings.runAs ?? "",
    THANOS_VERSION: thanos.version,
    INSTALL_ROOT,
    VERSION_DIR: thanosVersionDir(thanos.version),
    CONFIG_DIR,
    OWNER_MARKER_PATH,
    OWNER_TOKEN: input.owner.token,
    OWNER_LABEL: input.owner.label,
    UNIT_NAME,
    UNIT_PATH,
    UNIT_TEMPLATE: renderSidecarUnit({
      binary: thanosBinaryPath(thanos.version),
      settings,
      tls: input.tls,
      user: UNIT_USER_PLACEHOLDER,
    }),
    UNIT_USER_PLACEHOLDER,
    LOCK_PATH,
    WORK_ROOT,
    READY_URL: sidecarReadyUrl(settings.bindAddress, settings.httpPort),
    READY_TIMEOUT_SECONDS: settings.readyTimeoutSeconds,
    TLS_ENABLED: input.tls,
    PAYLOAD_MAGIC,
    TARBALL_URL_AMD64: sources.amd64.tarballUrl,
    SUMS_URL_AMD64: sources.amd64.sha256sumsUrl,
    TARBALL_NAME_AMD64: sources.amd64.tarballName,
    BINARY_MEMBER_AMD64: sources.amd64.binaryMember,
    PINNED_SHA256_AMD64: sources.amd64.pinnedSha256,
    TARBALL_URL_ARM64: sources.arm64.tarballUrl,
    SUMS_URL_ARM64: sources.arm64.sha256sumsUrl,
    TARBALL_NAME_ARM64: sources.arm64.tarballName,
    BINARY_MEMBER_ARM64: sources.arm64.binaryMember,
    PINNED_SHA256_ARM64: sources.arm64.pinnedSha256,
  };
}
