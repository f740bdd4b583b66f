/**
 * The exact command strings the VmSidecar component hands to the command provider, and the code the install runs.
 * The system tests run these same strings over ssh (`ssh host "<command>" < payload`), after putting the uploaded
 * code where the component's upload would, so what is tested is what is deployed.
 */
import type { VmConfig } from "../config";
import { externalLabelsValues, prometheusSetupValues } from "./prometheusSetup";
import { remoteCommand, uploadedCode, type ScriptValues, type UploadedCode, type VmScript } from "./shell";
import { sidecarScriptValues, type VmSidecarSettings } from "./sidecarValues";
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
}

export interface VmPrometheusCommands {
  /** Prints the external labels of the VM's Prometheus; reads the Prometheus payload (prometheusSecrets) on stdin. */
  externalLabels: string;
  /** Only with configurePrometheus: sets up a Debian/Ubuntu packaged Prometheus; same stdin; runs first. */
  setup?: string;
}

/** The install's fixed code and where it goes: the same for every VM, so known without any VM's values. */
export function installCode(): UploadedCode {
  return uploadedCode("install", INSTALL_CODE_REMOTE_PATH);
}

const command = (vm: Pick<VmConfig, "user">, script: VmScript, values: ScriptValues, uploadTo?: string) =>
  remoteCommand(script, values, { sudo: vm.user !== "root", name: `thanos-global-view-${script}`, uploadTo });

/**
 * The sidecar's commands for one VM. `host` is the SSH target's host (vm.host resolved); with vm.port it goes into
 * the ownership token, and a vm.user other than root runs everything via sudo. `prometheusClientConfig`: the VM has
 * Prometheus credentials or a CA (the sidecar then gets --prometheus.http-client-file).
 */
export function vmSidecarCommands(vm: VmSidecarSettings, host: string, stack: VmStackSettings): VmSidecarCommands {
  // Computed once: the thanos sources and the unit template are the same in both scripts.
  const sidecar = sidecarScriptValues(vm, host, stack);
  return { install: command(vm, "install", sidecar, INSTALL_CODE_REMOTE_PATH), delete: command(vm, "delete", sidecar) };
}

/** The commands that read (and with configurePrometheus set up) one VM's Prometheus. */
export function vmPrometheusCommands(vm: VmConfig): VmPrometheusCommands {
  const setup = vm.configurePrometheus;
  return {
    externalLabels: command(vm, "external-labels", externalLabelsValues(vm)),
    ...(setup && { setup: command(vm, "prometheus-setup", prometheusSetupValues(vm, setup)) }),
  };
}
