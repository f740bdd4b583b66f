/** Where the sidecar lives on a VM. One sidecar per VM: these paths are fixed, not per stack. */

/** Versioned Thanos installs: <INSTALL_ROOT>/thanos-<version>/thanos. */
export const INSTALL_ROOT = "/opt/thanos-global-view";
/** Objstore config, TLS files, Prometheus' client config and CA, the ownership marker; readable by root and the sidecar only. */
export const CONFIG_DIR = "/etc/thanos-global-view";
export const OBJSTORE_CONFIG_PATH = `${CONFIG_DIR}/objstore.yml`;
const TLS_DIR = `${CONFIG_DIR}/tls`;
export const TLS_CA_PATH = `${TLS_DIR}/ca.crt`;
export const TLS_CERT_PATH = `${TLS_DIR}/server.crt`;
export const TLS_KEY_PATH = `${TLS_DIR}/server.key`;
/** Records which stack resource installed the sidecar, so a stale delete leaves a newer install alone. */
export const OWNER_MARKER_PATH = `${CONFIG_DIR}/owner`;

export const UNIT_NAME = "thanos-sidecar.service";
export const UNIT_PATH = `/etc/systemd/system/${UNIT_NAME}`;

/** Where each VM script keeps its per-run work directory (the decoded payload, staged files); removed on exit. */
export const WORK_ROOT = "/var/tmp";

/** Serialises runs on one VM (two stacks, or a create racing a delete). */
export const LOCK_PATH = "/run/thanos-global-view.lock";

export function thanosVersionDir(version: string): string {
  return `${INSTALL_ROOT}/thanos-${version}`;
}

export function thanosBinaryPath(version: string): string {
  return `${thanosVersionDir(version)}/thanos`;
}
