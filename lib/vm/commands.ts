/**
 * The exact command strings the VmSidecar component hands to the command provider. The system tests run these same
 * strings over ssh (`ssh host "<command>" < payload`), so what is tested is what is deployed.
 */
import { createHash } from "node:crypto";
import { renderDeleteScript } from "./delete";
import { renderInstallScript } from "./install";
import { renderPreflightScript } from "./preflight";
import { renderPrometheusSetupScript } from "./prometheusSetup";
import { remoteCommand } from "./shell";
import { sidecarScriptVariables, type SidecarScriptInput } from "./sidecarScriptInput";
import type { ThanosDownload, VmSidecarSettings } from "./types";

export interface VmSidecarCommandInput {
  settings: VmSidecarSettings;
  thanos: { version: string; download: ThanosDownload };
  /** gRPC server TLS on: the payload must then carry the CA, cert and key. */
  tls: boolean;
  /** The SSH target. Host and port go into the ownership token; a user other than root runs everything via sudo. */
  ssh: { host: string; port: number; user: string };
  /** The Pulumi project and stack, also part of the ownership token. */
  stack: { project: string; stack: string };
}

export interface VmSidecarCommands {
  /** Create and update: installs or changes the sidecar; reads the payload (vmSidecarPayload) on stdin. */
  install: string;
  /** Removes the sidecar, unless a newer install (another token) owns it by now. */
  delete: string;
  /** The install's read-only checks alone, without a payload; the sandbox runs it, the component does not. */
  preflight: string;
  /** Only with settings.configurePrometheus: sets up a Debian/Ubuntu packaged Prometheus; run before install. */
  prometheusSetup?: string;
}

/**
 * Names the stack resource that owns a VM's sidecar. It differs between stacks, VM entries and SSH targets, so the
 * delete of a renamed or re-addressed entry, which runs after the new entry's install, sees a foreign token and
 * leaves the new sidecar alone.
 */
export function ownershipToken(input: Pick<VmSidecarCommandInput, "settings" | "ssh" | "stack">): string {
  const identity = [input.stack.project, input.stack.stack, input.settings.name, input.ssh.host, input.ssh.port];
  return createHash("sha256").update(JSON.stringify(identity)).digest("hex").slice(0, 32);
}

function scriptInput(input: VmSidecarCommandInput): SidecarScriptInput {
  return {
    settings: input.settings,
    thanos: input.thanos,
    tls: input.tls,
    owner: {
      token: ownershipToken(input),
      label: `${input.stack.project}/${input.stack.stack}/${input.settings.name}`,
    },
  };
}

export function vmSidecarCommands(input: VmSidecarCommandInput): VmSidecarCommands {
  const script = scriptInput(input);
  // Rendered once: the thanos sources and the unit template are the same in all three scripts.
  const variables = sidecarScriptVariables(script);
  const sudo = input.ssh.user !== "root";
  const setup = input.settings.configurePrometheus;
  return {
    install: remoteCommand(renderInstallScript(script, variables), { sudo, name: "thanos-global-view-install" }),
    delete: remoteCommand(renderDeleteScript(script, variables), { sudo, name: "thanos-global-view-delete" }),
    preflight: remoteCommand(renderPreflightScript(script, variables), { sudo, name: "thanos-global-view-preflight" }),
    ...(setup && {
      prometheusSetup: remoteCommand(
        renderPrometheusSetupScript({
          vmName: input.settings.name,
          prometheusUrl: input.settings.prometheusUrl,
          setup,
          readyTimeoutSeconds: input.settings.readyTimeoutSeconds,
        }),
        { sudo, name: "thanos-global-view-prometheus-setup" },
      ),
    }),
  };
}
