import { sidecarFlags, type SidecarFlagSettings } from "./flags";
import { thanosBinaryPath } from "./paths";
import { CONTROL_CHARACTERS } from "./shell";
import type { VmStackSettings } from "./stackSettings";

const PLAIN_UNIT_WORD = /^[A-Za-z0-9_@%+=:,./[\]-]+$/;

function assertSingleLine(value: string): void {
  if (CONTROL_CHARACTERS.test(value)) {
    throw new Error(`cannot put ${JSON.stringify(value)} in a systemd unit: it holds a control character`);
  }
}

/** One word of a path list or command line in a unit file: quoted when needed, `%` specifiers escaped. */
function unitWord(value: string): string {
  assertSingleLine(value);
  const escaped = value.replace(/%/g, "%%");
  return PLAIN_UNIT_WORD.test(escaped) ? escaped : `"${escaped.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** One ExecStart argument: as unitWord, and `$` doubled so systemd does not expand environment variables. */
function execArg(value: string): string {
  return unitWord(value.replace(/\$/g, "$$$$"));
}

/** ProtectHome=yes hides /home, /root and /run/user entirely; a TSDB there still needs its own path writable. */
function protectHome(tsdbPath: string): string {
  return /^\/(home|root|run\/user)(\/|$)/.test(tsdbPath) ? "read-only" : "yes";
}

/** PrivateTmp would replace /tmp and /var/tmp with empty directories, hiding a TSDB kept there. */
function privateTmp(tsdbPath: string): string {
  return /^\/(var\/)?tmp(\/|$)/.test(tsdbPath) ? "no" : "yes";
}

/**
 * The thanos-sidecar.service unit: runs the stack's Thanos version as `user`, the TSDB owner (it writes
 * thanos.shipper.json and hard-links blocks there), may write only the TSDB directory, no privileges.
 */
export function renderSidecarUnit(vm: SidecarFlagSettings, stack: Pick<VmStackSettings, "thanosVersion" | "tls">, user: string): string {
  assertSingleLine(user);
  const { tsdbPath } = vm;
  const binary = thanosBinaryPath(stack.thanosVersion.text);
  const command = [binary, ...sidecarFlags(vm, stack.tls)].map(execArg).join(" \\\n    ");
  return `# Managed by thanos-global-view (Pulumi): the next "pulumi up" overwrites local changes.
[Unit]
Description=Thanos sidecar beside this VM's Prometheus (thanos-global-view)
Documentation=https://thanos.io/tip/components/sidecar.md/
Wants=network-online.target
After=network-online.target prometheus.service

[Service]
Type=simple
User=${user}
ExecStart=${command}
Restart=on-failure
RestartSec=5s
UMask=0027

# The sidecar reads its config, writes thanos.shipper.json and hard links under the TSDB directory, and talks TCP.
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=${unitWord(tsdbPath)}
ProtectHome=${protectHome(tsdbPath)}
PrivateTmp=${privateTmp(tsdbPath)}
PrivateDevices=yes
PrivateMounts=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RemoveIPC=yes
CapabilityBoundingSet=
AmbientCapabilities=
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
`;
}
