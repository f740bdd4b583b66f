import { createHash } from "node:crypto";
import { sidecarReadyUrl } from "../address";
import type { VmConfig } from "../config";
import { thanosSources } from "./download";
import { PAYLOAD_MAGIC } from "./payload";
import { CONFIG_DIR, INSTALL_ROOT, LOCK_PATH, OWNER_MARKER_PATH, UNIT_NAME, UNIT_PATH, WORK_ROOT, thanosVersionDir } from "./paths";
import type { ScriptValues } from "./shell";
import type { VmStackSettings } from "./stackSettings";
import type { SidecarFlagSettings } from "./flags";
import { renderSidecarUnit } from "./unit";

/** Stands for the sidecar's user in the unit: the script puts in the user it resolves on the VM. */
const UNIT_USER_PLACEHOLDER = "__THANOS_GLOBAL_VIEW_SIDECAR_USER__";

/**
 * Names the stack resource that owns a VM's sidecar. It differs between stacks, VM entries and SSH targets, so the
 * delete of a renamed or re-addressed entry, which runs after the new entry's install, sees a foreign token and
 * leaves the new sidecar alone.
 */
function ownershipToken(vm: Pick<VmConfig, "name" | "port">, host: string, owner: VmStackSettings["owner"]): string {
  const identity = [owner.project, owner.stack, vm.name, host, vm.port];
  return createHash("sha256").update(JSON.stringify(identity)).digest("hex").slice(0, 32);
}

/**
 * A VM's entry with what the stack derives for it from other keys: whether Prometheus needs credentials or a CA
 * (SidecarFlagSettings), and how long a restarted sidecar that the next replica of its HA group waits for stays
 * ready before the install returns (the querier must have found it again first; 0 without such a replica).
 */
export type VmSidecarSettings = VmConfig & SidecarFlagSettings & { settleSeconds?: number };

/** The values of a VM's sidecar scripts (install and delete), as scripts/values/sidecar.sh declares them. */
export function sidecarScriptValues(vm: VmSidecarSettings, host: string, stack: VmStackSettings): ScriptValues {
  const version = stack.thanosVersion.text;
  const sources = thanosSources(version, stack.thanosDownload);
  return {
    VM_NAME: vm.name,
    PROMETHEUS_URL: vm.prometheusUrl,
    TSDB_PATH: vm.tsdbPath,
    RUN_AS: vm.runAs ?? "",
    THANOS_VERSION: version,
    INSTALL_ROOT,
    VERSION_DIR: thanosVersionDir(version),
    CONFIG_DIR,
    OWNER_MARKER_PATH,
    OWNER_TOKEN: ownershipToken(vm, host, stack.owner),
    OWNER_LABEL: `${stack.owner.project}/${stack.owner.stack}/${vm.name}`,
    UNIT_NAME,
    UNIT_PATH,
    UNIT_TEMPLATE: renderSidecarUnit(vm, stack, UNIT_USER_PLACEHOLDER),
    UNIT_USER_PLACEHOLDER,
    LOCK_PATH,
    WORK_ROOT,
    READY_URL: sidecarReadyUrl(vm.bindAddress, vm.httpPort),
    READY_TIMEOUT_SECONDS: vm.readyTimeoutSeconds,
    TLS_ENABLED: stack.tls,
    PROMETHEUS_CLIENT_CONFIG: vm.prometheusClientConfig ?? false,
    SETTLE_SECONDS: vm.settleSeconds ?? 0,
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
