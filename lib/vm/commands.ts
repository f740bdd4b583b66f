/**
 * The exact command strings the VmSidecar component hands to the command provider. The system tests run these same
 * strings over ssh (`ssh host "<command>" < payload`), so what is tested is what is deployed.
 */
import type { VmConfig } from "../config";
import { prometheusSetupValues } from "./prometheusSetup";
import { remoteCommand, renderScript, type ScriptValues, type VmScript } from "./shell";
import { sidecarScriptValues } from "./sidecarValues";
import type { VmStackSettings } from "./stackSettings";

export interface VmSidecarCommands {
  /** Create and update: installs or changes the sidecar; reads the payload (vmSidecarPayload) on stdin. */
  install: string;
  /** Removes the sidecar, unless a newer install (another token) owns it by now. */
  delete: string;
  /** Only with configurePrometheus: sets up a Debian/Ubuntu packaged Prometheus; run before install. */
  prometheusSetup?: string;
}

/**
 * The commands for one VM. `host` is the SSH target's host (vm.host resolved); with vm.port it goes into the
 * ownership token, and a vm.user other than root runs everything via sudo.
 */
export function vmSidecarCommands(vm: VmConfig, host: string, stack: VmStackSettings): VmSidecarCommands {
  const sudo = vm.user !== "root";
  const command = (script: VmScript, values: ScriptValues) =>
    remoteCommand(renderScript(script, values), { sudo, name: `thanos-global-view-${script}` });
  // Computed once: the thanos sources and the unit template are the same in both scripts.
  const sidecar = sidecarScriptValues(vm, host, stack);
  const setup = vm.configurePrometheus;
  return {
    install: command("install", sidecar),
    delete: command("delete", sidecar),
    ...(setup && { prometheusSetup: command("prometheus-setup", prometheusSetupValues(vm, setup)) }),
  };
}
