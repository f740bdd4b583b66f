import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { joinHostPort } from "../lib/address";
import type { QuerierEndpoint } from "../lib/endpoints";
import type { ObjstoreSettings } from "../lib/objstore";
import { installCode, vmSidecarCommands } from "../lib/vm/commands";
import type { VmSidecarSettings } from "../lib/vm/sidecarValues";
import type { UploadedCode } from "../lib/vm/shell";
import { sidecarSecrets, vmSidecarPayload, type PrometheusAccess } from "../lib/vm/payload";
import { vmConnection } from "./vmConnection";
import type { VmStackSettings } from "../lib/vm/stackSettings";

export interface VmSidecarArgs extends Pick<VmStackSettings, "thanosVersion" | "thanosDownload"> {
  /** The VM's entry in the stack config, with what the stack derives for it. */
  vm: VmSidecarSettings;
  /** vm.host, resolved (it may name another stack's output). */
  host: pulumi.Input<string>;
  /** The address the querier dials; differs from host when SSH goes through a public address. */
  advertiseAddress: pulumi.Input<string>;
  /** Secret. Also used for the bastion (vm.proxy). */
  sshPrivateKey: pulumi.Input<string>;
  objstore: ObjstoreSettings;
  /** Secret. */
  objstoreSecretKey: pulumi.Input<string>;
  /** gRPC server TLS for the sidecar, all secret (PEM). */
  tls?: { caCert: pulumi.Input<string>; cert: pulumi.Input<string>; key: pulumi.Input<string> };
  /** Prometheus' credentials and CA (secret), as the VM's VmPrometheus got them. */
  prometheusAccess: pulumi.Input<PrometheusAccess>;
  /**
   * What the install waits for besides its own upload: the VM's Prometheus (set up, labels read and checked across
   * the fleet) and, in an HA group, the previous replica's install, i.e. its sidecar being ready again.
   */
  installAfter: pulumi.Input<pulumi.Resource[]>[];
}

/** The secret files for the VM, as one secret stdin payload. */
function secretPayload(args: VmSidecarArgs): pulumi.Output<string> {
  const tls = args.tls && pulumi.all([args.tls.caCert, args.tls.cert, args.tls.key]);
  return pulumi.secret(
    pulumi.all([args.objstoreSecretKey, tls, args.prometheusAccess]).apply(([secretKey, tlsFiles, prometheus]) =>
      vmSidecarPayload(
        sidecarSecrets(args.objstore, secretKey, tlsFiles && { caCert: tlsFiles[0], cert: tlsFiles[1], key: tlsFiles[2] }, prometheus),
      ),
    ),
  );
}

/**
 * The local file a remote.CopyToRemote uploads: named by its content's sha256, so every VM and every run of the
 * program shares one, and state records only its path and hash (a FileAsset), never the code.
 */
function localCodeFile(code: UploadedCode): string {
  const file = path.join(os.tmpdir(), "thanos-global-view", `${path.basename(code.remotePath, ".sh")}-${code.sha256}.sh`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}`;
    fs.writeFileSync(temporary, code.text);
    fs.renameSync(temporary, file);
  }
  return file;
}

/**
 * A Thanos sidecar beside a VM's Prometheus, installed and kept up to date over SSH with remote commands.
 *
 * Changes to the script, the payload or the connection are updates: the install runs for create and, as the
 * provider falls back to `create` when `update` is unset, for update too; no `triggers` are set, the only input that
 * makes command provider 1.2 replace. The install's fixed code is uploaded first (`<name>-install-code`): the command
 * holds only the VM's values, which keeps the state small (the provider stores each command in inputs and outputs)
 * and `pulumi preview --diff` readable. A replacement can then
 * only be asked for (`pulumi up --replace`); it deletes before it creates, i.e. a clean reinstall, since the old
 * delete and the new create would carry the same ownership token. Where a new resource's create does run before an
 * old one's delete (a renamed VM entry, another stack taking the VM over), the ownership token in the scripts makes
 * the stale delete leave the newer sidecar running.
 *
 * Secrets (objstore secret key, TLS key, SSH key) never enter a command string: the provider prints those in its
 * errors. They travel in the secret stdin; stdout and stderr are stored as secrets too.
 */
export class VmSidecar extends pulumi.ComponentResource {
  /** host:port the querier dials. */
  readonly grpcAddress: pulumi.Output<string>;
  readonly httpAddress: pulumi.Output<string>;
  /** The querier's endpoint for this sidecar: its gRPC address, with TLS when the sidecar serves it. */
  readonly endpoint: pulumi.Output<QuerierEndpoint>;
  /** The install command; depend on it to wait for a ready sidecar. */
  readonly install: command.remote.Command;

  constructor(name: string, args: VmSidecarArgs, opts?: pulumi.ComponentResourceOptions) {
    super("thanos-global-view:vm:Sidecar", name, {}, opts);
    const { vm } = args;
    const connection = vmConnection(vm, args.host, args.sshPrivateKey);
    const stack: VmStackSettings = {
      thanosVersion: args.thanosVersion,
      thanosDownload: args.thanosDownload,
      tls: args.tls !== undefined,
      owner: { project: pulumi.getProject(), stack: pulumi.getStack() },
    };
    const commands = pulumi.output(args.host).apply((host) => vmSidecarCommands(vm, host, stack));

    const code = installCode();
    const upload = new command.remote.CopyToRemote(
      `${name}-install-code`,
      { connection, source: new pulumi.asset.FileAsset(localCodeFile(code)), remotePath: code.remotePath },
      { parent: this },
    );
    this.install = new command.remote.Command(
      `${name}-sidecar`,
      {
        connection,
        create: commands.install,
        delete: commands.delete,
        stdin: secretPayload(args),
        // The scripts print progress and errors but never the payload, and journal lines holding the secret key are
        // hidden: both streams are safe to show (a failed command's error shows them anyway).
        logging: command.types.enums.remote.Logging.StdoutAndStderr,
        addPreviousOutputInEnv: false,
      },
      {
        parent: this,
        // Outputs in dependsOn are awaited, and their resources depended on, before the install is registered.
        dependsOn: [upload, ...args.installAfter] as pulumi.Input<pulumi.Resource>[],
        additionalSecretOutputs: ["stdout", "stderr"],
        deleteBeforeReplace: true,
      },
    );

    const advertise = pulumi.output(args.advertiseAddress);
    this.grpcAddress = advertise.apply((address) => joinHostPort(address, vm.grpcPort));
    this.httpAddress = advertise.apply((address) => joinHostPort(address, vm.httpPort));
    this.endpoint = this.grpcAddress.apply((address) => ({ address, tls: args.tls !== undefined }));
    this.registerOutputs({ grpcAddress: this.grpcAddress, httpAddress: this.httpAddress, endpoint: this.endpoint });
  }
}
