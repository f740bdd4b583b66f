import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { VmConfig } from "../lib/config";
import { parseExternalLabels } from "../lib/fleet";
import { vmPrometheusCommands } from "../lib/vm/commands";
import { prometheusSecrets, vmSidecarPayload, type PrometheusAccess } from "../lib/vm/payload";
import { vmConnection } from "./vmConnection";

export interface VmPrometheusArgs {
  /** The VM's entry in the stack config. */
  vm: VmConfig;
  /** vm.host, resolved. */
  host: pulumi.Input<string>;
  /** Secret. */
  sshPrivateKey: pulumi.Input<string>;
  /** Prometheus' credentials (secret) and CA. */
  access: pulumi.Input<PrometheusAccess>;
}

/**
 * The VM's Prometheus as the sidecar needs it: set up first when configurePrometheus asks (`<name>-prometheus-setup`),
 * then its external labels read (`<name>-external-labels`), for the stack's check that no two Prometheus servers
 * share a label set before any sidecar of the change starts. Both are remote commands whose inputs change only with
 * the VM's connection, Prometheus URL, credentials or setup: a no-op `pulumi up`, or a Thanos upgrade, opens no SSH
 * session for them, and the labels come from the state.
 */
export class VmPrometheus extends pulumi.ComponentResource {
  /** The external labels its Prometheus reported when they were last read. */
  readonly externalLabels: pulumi.Output<Record<string, string>>;
  /** The remote commands, to depend on. */
  readonly commands: command.remote.Command[];

  constructor(name: string, args: VmPrometheusArgs, opts?: pulumi.ComponentResourceOptions) {
    super("thanos-global-view:vm:Prometheus", name, {}, opts);
    const { vm } = args;
    const connection = vmConnection(vm, args.host, args.sshPrivateKey);
    const commands = vmPrometheusCommands(vm);
    const stdin = pulumi.secret(pulumi.output(args.access).apply((access) => vmSidecarPayload(prometheusSecrets(access))));
    // The provider would pass earlier output through SSH environment variables, which sshd usually refuses.
    const common = { connection, stdin, addPreviousOutputInEnv: false };
    const setup =
      commands.setup === undefined
        ? undefined
        : new command.remote.Command(
            `${name}-prometheus-setup`,
            { ...common, create: commands.setup },
            // It belonged to the sidecar component before the label check came: the same resource, not a new one.
            { parent: this, aliases: [{ parent: pulumi.createUrn(name, "thanos-global-view:vm:Sidecar") }] },
          );
    const labels = new command.remote.Command(
      `${name}-external-labels`,
      { ...common, create: commands.externalLabels, logging: command.types.enums.remote.Logging.StdoutAndStderr },
      { parent: this, dependsOn: setup ? [setup] : [] },
    );
    this.commands = [...(setup ? [setup] : []), labels];
    this.externalLabels = labels.stdout.apply(parseExternalLabels);
    this.registerOutputs({ externalLabels: this.externalLabels });
  }
}
