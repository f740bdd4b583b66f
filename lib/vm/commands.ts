/**
 * The exact command strings the VmSidecar component hands to the command provider. The system tests run these same
 * strings over ssh (`ssh host "<command>" < payload`), so what is tested is what is deployed.
 */
import { createHash } from "node:crypto";
import { prometheusSetupValues } from "./prometheusSetup";
import { remoteCommand, renderScript, type ScriptValues, type VmScript } from "./shell";
import { sidecarScriptValues, type SidecarScriptInput } from "./sidecarValues";
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
  const sudo = input.ssh.user !== "root";
  const command = (script: VmScript, values: ScriptValues) =>
    remoteCommand(renderScript(script, values), { sudo, name: `thanos-global-view-${script}` });
  // Computed once: the thanos sources and the unit template are the same in all three scripts.
  const sidecar = sidecarScriptValues(scriptInput(input));
  const { settings } = input;
  const setup = settings.configurePrometheus;
  return {
    install: command("install", sidecar),
    delete: command("delete", sidecar),
    preflight: command("preflight", sidecar),
    ...(setup && {
      prometheusSetup: command(
        "prometheus-setup",
        prometheusSetupValues({ vmName: settings.name, prometheusUrl: settings.prometheusUrl, setup, readyTimeoutSeconds: settings.readyTimeoutSeconds }),
      ),
    }),
  };
}
