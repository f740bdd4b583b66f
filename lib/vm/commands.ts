/**
 * The exact command strings the VmSidecar component hands to the command provider, and the code the install runs.
 * The system tests run these same strings over ssh (`ssh host "<command>" < payload`), after putting the uploaded
 * code where the component's upload would, so what is tested is what is deployed.
 */
import type { VmConfig } from "../config";
import { prometheusSetupValues } from "./prometheusSetup";
import { remoteCommand, uploadedCode, type ScriptValues, type UploadedCode, type VmScript } from "./shell";
import { sidecarScriptValues } from "./sidecarValues";
import type { VmStackSettings } from "./stackSettings";

/** Where the install's fixed code is uploaded, relative to the SSH user's home (SFTP's starting directory). */
export const INSTALL_CODE_REMOTE_PATH = ".thanos-global-view/install.sh";

export interface VmSidecarCommands {
  /**
   * Create and update: installs or changes the sidecar; reads the payload (vmSidecarPayload) on stdin. Runs the code
   * installCode() uploads.
   */
  install: string;
  /** Removes the sidecar, unless a newer install (another token) owns it by now. Self-contained: no upload. */
  delete: string;
  /** Only with configurePrometheus: sets up a Debian/Ubuntu packaged Prometheus; run before install. */
  prometheusSetup?: string;
}

/** The install's fixed code and where it goes: the same for every VM, so known without any VM's values. */
export function installCode(): UploadedCode {
  return uploadedCode("install", INSTALL_CODE_REMOTE_PATH);
}

/**
 * The commands for one VM. `host` is the SSH target's host (vm.host resolved); with vm.port it goes into the
 * ownership token, and a vm.user other than root runs everything via sudo.
 */
export function vmSidecarCommands(vm: VmConfig, host: string, stack: VmStackSettings): VmSidecarCommands {
  const sudo = vm.user !== "root";
  const command = (script: VmScript, values: ScriptValues, uploadTo?: string) =>
    remoteCommand(script, values, { sudo, name: `thanos-global-view-${script}`, uploadTo });
  // Computed once: the thanos sources and the unit template are the same in both scripts.
  const sidecar = sidecarScriptValues(vm, host, stack);
  const setup = vm.configurePrometheus;
  return {
    install: command("install", sidecar, INSTALL_CODE_REMOTE_PATH),
    delete: command("delete", sidecar),
    ...(setup && { prometheusSetup: command("prometheus-setup", prometheusSetupValues(vm, setup)) }),
  };
}
