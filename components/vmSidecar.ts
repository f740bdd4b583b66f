import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { joinHostPort } from "../lib/address";
import type { QuerierEndpoint } from "../lib/endpoints";
import type { ObjstoreSettings } from "../lib/objstore";
import { parseExternalLabels } from "../lib/fleet";
import { installCode, vmPrometheusCommands, vmSidecarCommands } from "../lib/vm/commands";
import type { VmSidecarSettings } from "../lib/vm/sidecarValues";
import type { UploadedCode } from "../lib/vm/shell";
import { prometheusSecrets, sidecarSecrets, vmSidecarPayload, type PrometheusAccess } from "../lib/vm/payload";
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
  /** Prometheus' credentials (secret) and CA. */
  prometheusAccess: pulumi.Input<PrometheusAccess>;
  /**
   * What its Prometheus setup (configurePrometheus, which restarts Prometheus) waits for: the setup of the replica
   * before it in its haGroup, so that two replicas never restart together.
   */
  prometheusSetupAfter?: pulumi.Resource;
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
 * program shares one, and state records only its path and hash (a FileAsset), never the code. A file of that name
 * with other content (cut short, or put there by someone else) is written anew.
 */
function localCodeFile(code: UploadedCode): string {
  const file = path.join(os.tmpdir(), "thanos-global-view", `${path.basename(code.remotePath, ".sh")}-${code.sha256}.sh`);
  const sha256 = (content: Buffer) => crypto.createHash("sha256").update(content).digest("hex");
  if (!fs.existsSync(file) || sha256(fs.readFileSync(file)) !== code.sha256) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}`;
    fs.writeFileSync(temporary, code.text);
    fs.renameSync(temporary, file);
  }
  return file;
}

/**
 * A Thanos sidecar beside a VM's Prometheus, installed and kept up to date over SSH with remote commands, built in
 * two steps so that the installs of a fleet can wait for what the fleet's VMs report:
 * - the constructor: the VM's Prometheus set up when configurePrometheus asks (`<name>-prometheus-setup`), its
 *   external labels read (`<name>-external-labels`, for the stack's check that no two Prometheus servers share a
 *   label set), and the install's fixed code uploaded (`<name>-install-code`). These change only with the VM's
 *   connection, Prometheus URL, credentials or setup (the upload also with the code): a no-op `pulumi up`, or a Thanos
 *   upgrade, opens no SSH session for them, and the labels come from the state.
 * - deploy(): the install itself (`<name>-sidecar`), after what it is told to wait for.
 *
 * Changes to the script, the payload or the connection are updates: the install runs for create and, as the
 * provider falls back to `create` when `update` is unset, for update too; no `triggers` are set, the only input that
 * makes command provider 1.2 replace. The install command holds only the VM's values and a loader for the uploaded
 * code, which keeps the state small (the provider stores each command in inputs and outputs) and `pulumi preview
 * --diff` readable. A replacement can then only be asked for (`pulumi up --replace`); it deletes before it creates,
 * i.e. a clean reinstall, since the old delete and the new create would carry the same ownership token. Where a new
 * resource's create does run before an old one's delete (a renamed VM entry, another stack taking the VM over), the
 * ownership token in the scripts makes the stale delete leave the newer sidecar running.
 *
 * Secrets (objstore secret key, TLS key, Prometheus' credentials, SSH key) never enter a command string: the provider
 * prints those in its errors. They travel in the secret stdin; the install's stdout and stderr are stored as secrets.
 */
export class VmSidecar extends pulumi.ComponentResource {
  /** host:port the querier dials. */
  readonly grpcAddress: pulumi.Output<string>;
  readonly httpAddress: pulumi.Output<string>;
  /** The querier's endpoint for this sidecar: its gRPC address, with TLS when the sidecar serves it. */
  readonly endpoint: pulumi.Output<QuerierEndpoint>;
  /** The external labels the VM's Prometheus reported when they were last read; depend on it to wait for the read. */
  readonly externalLabels: pulumi.Output<Record<string, string>>;
  /** The Prometheus setup, when configurePrometheus asks for one. */
  readonly prometheusSetup?: command.remote.Command;
  private readonly connection: command.types.input.remote.ConnectionArgs;
  private readonly upload: command.remote.CopyToRemote;

  constructor(
    private readonly resourceName: string,
    private readonly args: VmSidecarArgs,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("thanos-global-view:vm:Sidecar", resourceName, {}, opts);
    const name = resourceName;
    const { vm } = args;
    this.connection = vmConnection(vm, args.host, args.sshPrivateKey);
    const prometheus = vmPrometheusCommands(vm);
    const prometheusStdin = pulumi.secret(pulumi.output(args.prometheusAccess).apply((access) => vmSidecarPayload(prometheusSecrets(access))));
    // The provider would pass earlier output through SSH environment variables, which sshd usually refuses.
    const common = { connection: this.connection, stdin: prometheusStdin, addPreviousOutputInEnv: false };
    const setup =
      prometheus.setup === undefined
        ? undefined
        : new command.remote.Command(`${name}-prometheus-setup`, { ...common, create: prometheus.setup }, { parent: this, dependsOn: args.prometheusSetupAfter ? [args.prometheusSetupAfter] : [] });
    this.prometheusSetup = setup;
    const labels = new command.remote.Command(
      `${name}-external-labels`,
      { ...common, create: prometheus.externalLabels, logging: command.types.enums.remote.Logging.StdoutAndStderr },
      { parent: this, dependsOn: setup ? [setup] : [] },
    );
    this.externalLabels = labels.stdout.apply(parseExternalLabels);

    const code = installCode();
    this.upload = new command.remote.CopyToRemote(
      `${name}-install-code`,
      { connection: this.connection, source: new pulumi.asset.FileAsset(localCodeFile(code)), remotePath: code.remotePath },
      { parent: this },
    );

    const advertise = pulumi.output(args.advertiseAddress);
    this.grpcAddress = advertise.apply((address) => joinHostPort(address, vm.grpcPort));
    this.httpAddress = advertise.apply((address) => joinHostPort(address, vm.httpPort));
    this.endpoint = this.grpcAddress.apply((address) => ({ address, tls: args.tls !== undefined }));
  }

  /**
   * The install, after its upload and `after`: the fleet's label check (a promise that holds no resources and
   * settles once every VM's labels were read and checked) and, in an haGroup, the previous replica's install, i.e. its
   * sidecar being ready again. Call once.
   */
  deploy(after: pulumi.Input<pulumi.Resource[]>[]): command.remote.Command {
    const { args } = this;
    const stack: VmStackSettings = {
      thanosVersion: args.thanosVersion,
      thanosDownload: args.thanosDownload,
      tls: args.tls !== undefined,
      owner: { project: pulumi.getProject(), stack: pulumi.getStack() },
    };
    const commands = pulumi.output(args.host).apply((host) => vmSidecarCommands(args.vm, host, stack));
    const install = new command.remote.Command(
      `${this.resourceName}-sidecar`,
      {
        connection: this.connection,
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
        // Promises in dependsOn are awaited before the install is registered, and the resources they hold depended on.
        dependsOn: [this.upload, ...after] as pulumi.Input<pulumi.Resource>[],
        additionalSecretOutputs: ["stdout", "stderr"],
        deleteBeforeReplace: true,
      },
    );
    this.registerOutputs({ grpcAddress: this.grpcAddress, httpAddress: this.httpAddress, endpoint: this.endpoint, externalLabels: this.externalLabels });
    return install;
  }
}
