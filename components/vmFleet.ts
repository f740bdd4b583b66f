import * as pulumi from "@pulumi/pulumi";
import { ConfigError, type StackConfig } from "../lib/config";
import type { QuerierEndpoint } from "../lib/endpoints";
import { fleetLabelProblems, rolloutPredecessors, settleSeconds } from "../lib/fleet";
import type { ObjstoreSettings } from "../lib/objstore";
import { PROJECT } from "../lib/project";
import type { StackOutputHosts } from "./stackOutputHosts";
import { VmSidecar, type VmSidecarArgs } from "./vmSidecar";

export interface VmFleetArgs extends Pick<VmSidecarArgs, "thanosVersion" | "thanosDownload" | "tls"> {
  /** The stack config's vms, in config order (an haGroup changes in that order). */
  vms: StackConfig["vms"];
  /** Resolves a VM's host or advertiseAddress where it names another stack's output. */
  hosts: StackOutputHosts;
  /** Secret. */
  sshPrivateKey: pulumi.Input<string>;
  objstore: ObjstoreSettings;
  /** Secret. */
  objstoreSecretKey: pulumi.Input<string>;
  /** prometheusCredentials, by VM name (secret). */
  prometheusCredentials?: StackConfig["prometheusCredentials"];
  /** The querier's replica labels: two label sets equal but for these are replicas of one HA pair. */
  replicaLabels: readonly string[];
  /** The querier's --endpoint.info-timeout: how long a restarted replica takes to be dialled again. */
  querierInfoTimeout: string;
  /** What must exist before a sidecar starts shipping blocks: the bucket. */
  bucket: pulumi.Resource;
}

/**
 * The VM sidecars of a stack, changed as a fleet: every VM's external labels are read first, and if two Prometheus
 * servers share a label set every install fails, before any sidecar of the change starts (during `up` only: at
 * preview configurePrometheus's labels are checked, by the config schema, and nothing runs). The replicas of an
 * haGroup change one after another: each install waits for the previous one's sidecar to be ready and settled, and
 * each Prometheus setup (which restarts Prometheus) for the previous one's; the rest change in parallel.
 */
export class VmFleet extends pulumi.ComponentResource {
  /** The querier's endpoint for each sidecar, in config order. */
  readonly endpoints: pulumi.Output<QuerierEndpoint>[];
  readonly grpcAddresses: pulumi.Output<string[]>;
  readonly httpAddresses: pulumi.Output<string[]>;

  constructor(name: string, args: VmFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("thanos-global-view:vm:Fleet", name, {}, opts);
    const predecessors = rolloutPredecessors(args.vms);
    const settle = settleSeconds(args.querierInfoTimeout);
    // The last Prometheus setup registered in each haGroup: the next replica's setup waits for it.
    const lastSetup = new Map<string, pulumi.Resource>();
    const sidecars = args.vms.map((vm, index) => {
      const host = args.hosts.resolve(vm.host, `vms[${index}].host`);
      const credentials = args.prometheusCredentials?.[vm.name];
      const sidecar = new VmSidecar(
        vm.name,
        {
          vm: { ...vm, prometheusClientConfig: credentials !== undefined || vm.prometheusCaCert !== undefined, settleSeconds: predecessors.includes(index) ? settle : 0 },
          host,
          advertiseAddress: vm.advertiseAddress === undefined ? host : args.hosts.resolve(vm.advertiseAddress, `vms[${index}].advertiseAddress`),
          sshPrivateKey: args.sshPrivateKey,
          thanosVersion: args.thanosVersion,
          thanosDownload: args.thanosDownload,
          objstore: args.objstore,
          objstoreSecretKey: args.objstoreSecretKey,
          tls: args.tls,
          prometheusAccess: pulumi.secret(pulumi.output({ credentials, caCert: vm.prometheusCaCert })),
          prometheusSetupAfter: vm.haGroup === undefined ? undefined : lastSetup.get(vm.haGroup),
        },
        // Stacks made before the fleet had its own component keep their sidecars (the same resources, not new ones).
        { parent: this, dependsOn: [args.bucket], aliases: [{ parent: pulumi.rootStackResource }] },
      );
      if (vm.haGroup !== undefined && sidecar.prometheusSetup) lastSetup.set(vm.haGroup, sidecar.prometheusSetup);
      return sidecar;
    });

    // The installs wait for the check without depending on every label read in the state, which would grow with the
    // square of the fleet: a plain promise holding no resources, resolved once the check passed.
    const checked = new Promise<pulumi.Resource[]>((resolve, reject) => {
      if (pulumi.runtime.isDryRun()) return resolve([]);
      pulumi.all(sidecars.map((sidecar) => sidecar.externalLabels)).apply((labels) => {
        const members = args.vms.map((vm, index) => ({ index, name: vm.name, haGroup: vm.haGroup, labels: labels[index] }));
        const problems = fleetLabelProblems(members, args.replicaLabels, (member) => `${PROJECT}:vms[${member.index}]`, "its Prometheus reports");
        if (problems.length > 0) reject(new ConfigError(problems));
        else resolve([]);
      });
    });
    const installs: pulumi.Resource[] = [];
    sidecars.forEach((sidecar, index) => {
      const previous = predecessors[index];
      installs.push(sidecar.deploy([checked, ...(previous === undefined ? [] : [[installs[previous]]])]));
    });

    this.endpoints = sidecars.map((sidecar) => sidecar.endpoint);
    this.grpcAddresses = pulumi.all(sidecars.map((sidecar) => sidecar.grpcAddress));
    this.httpAddresses = pulumi.all(sidecars.map((sidecar) => sidecar.httpAddress));
    this.registerOutputs({ grpcAddresses: this.grpcAddresses, httpAddresses: this.httpAddresses });
  }
}
