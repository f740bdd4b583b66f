/** The VmSidecar component under Pulumi mocks: what it hands to the command provider, and what it keeps secret. */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { before, describe, it } from "node:test";
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { VmSidecar as VmSidecarClass, VmSidecarArgs } from "../../components/vmSidecar";
import { INSTALL_CODE_REMOTE_PATH, installCode, vmPrometheusCommands, vmSidecarCommands } from "../../lib/vm/commands";
import { FAKE_SSH_KEY, FAKE_SSH_KEY_MARKER, FAKE_TLS_KEY, FAKE_TLS_KEY_MARKER } from "../fixtures/fakeKeys";
import { parsePayload, STACK, VM } from "../harness/vm";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

const registered: Registered[] = [];
const options = new Map<string, pulumi.ResourceOptions>();

void pulumi.runtime.setMocks(
  {
    newResource(args) {
      registered.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown> });
      // What external-labels.sh prints on a VM whose Prometheus has {cluster: <vm>}.
      const vm = /^(.*)-external-labels$/.exec(args.name)?.[1];
      const stdout = vm && `thanos-global-view: vm ${vm}: external labels:     cluster: ${vm}\n`;
      return { id: `${args.name}-id`, state: { ...args.inputs, ...(stdout && { stdout }) } };
    },
    call: (args) => args.inputs,
  },
  "thanos-global-view",
  "test",
  false,
);

const SECRET_KEY = "FAKE-S3-SECRET-KEY-0d8f3a";
const PRIVATE_KEY = FAKE_SSH_KEY;
const TLS_KEY = FAKE_TLS_KEY;
const PROMETHEUS_PASSWORD = "FAKE-PROMETHEUS-PASSWORD-71c2";
const SECRETS = [SECRET_KEY, FAKE_SSH_KEY_MARKER, FAKE_TLS_KEY_MARKER, PROMETHEUS_PASSWORD];
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfTheVm";
const BASTION_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfBastion";

let VmSidecar: typeof VmSidecarClass;

function args(overrides: Partial<VmSidecarArgs> = {}): VmSidecarArgs {
  return {
    vm: { ...VM, hostKey: HOST_KEY },
    host: "203.0.113.10",
    advertiseAddress: "10.0.0.158",
    sshPrivateKey: pulumi.secret(PRIVATE_KEY),
    thanosVersion: STACK.thanosVersion,
    thanosDownload: STACK.thanosDownload,
    objstore: { bucket: "thanos", endpoint: "10.0.0.5:9000", insecure: true, accessKey: "minio" },
    objstoreSecretKey: pulumi.secret(SECRET_KEY),
    prometheusAccess: {},
    ...overrides,
  };
}

/**
 * Builds a sidecar and deploys its install after `after`, then waits until its children reached the mocks; child
 * options are captured on the way.
 */
async function build(
  name: string,
  overrides: Partial<VmSidecarArgs> = {},
  after: pulumi.Input<pulumi.Resource[]>[] = [],
): Promise<VmSidecarClass & { install: command.remote.Command }> {
  const sidecar = new VmSidecar(name, args(overrides), {
    transformations: [
      (resource) => {
        options.set(resource.name, resource.opts);
        return undefined;
      },
    ],
  });
  const install = sidecar.deploy(after);
  await valueOf(install.urn);
  for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
  return Object.assign(sidecar, { install });
}

function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((value) => resolve(value)));
}

/** Mock inputs hold secrets as {<sig>: <secret sig>, value}. */
function unwrap(value: unknown): unknown {
  if (value && typeof value === "object" && "value" in value && Object.keys(value).some((key) => /^[0-9a-f]{32}$/.test(key))) {
    return value.value;
  }
  return value;
}

function isWrappedSecret(value: unknown): boolean {
  return unwrap(value) !== value;
}

const resource = (name: string): Registered => {
  const found = registered.find((entry) => entry.name === name);
  assert.ok(found, `${name} was not registered; have ${registered.map((entry) => entry.name).join(", ")}`);
  return found;
};

describe("VmSidecar", () => {
  before(async () => {
    ({ VmSidecar } = await import("../../components/vmSidecar"));
  });

  it("registers as thanos-global-view:vm:Sidecar with one remote command holding the install", async () => {
    const sidecar = await build("vm-a");
    assert.equal(resource("vm-a").type, "thanos-global-view:vm:Sidecar");
    assert.equal(resource("vm-a-sidecar").type, "command:remote:Command");
    assert.equal(registered.some((entry) => entry.name === "vm-a-prometheus-setup"), false);
    assert.equal(await valueOf(sidecar.grpcAddress), "10.0.0.158:10901");
    assert.equal(await valueOf(sidecar.httpAddress), "10.0.0.158:10902");
  });

  it("uploads the install's fixed code first, as a file asset (path and hash in state, not the code)", async () => {
    await build("vm-u");
    const upload = resource("vm-u-install-code");
    assert.equal(upload.type, "command:remote:CopyToRemote");
    assert.equal(upload.inputs.remotePath, INSTALL_CODE_REMOTE_PATH);
    assert.ok(isWrappedSecret(upload.inputs.connection), "the upload's connection holds the private key: it must be secret");
    assert.deepEqual(unwrap(upload.inputs.connection), unwrap(resource("vm-u-sidecar").inputs.connection));
    // The mocks see the asset itself: a FileAsset has a path; a StringAsset's text would put the code in state.
    const source = upload.inputs.source as pulumi.asset.FileAsset;
    assert.ok(source instanceof pulumi.asset.FileAsset, "the source is not a file asset");
    assert.equal(fs.readFileSync(await source.path, "utf8"), installCode().text);
    const dependsOn = options.get("vm-u-sidecar")?.dependsOn as pulumi.Resource[];
    const urns = await Promise.all(dependsOn.map((dependency) => valueOf(dependency.urn)));
    assert.equal(urns.length, 1);
    assert.match(urns[0], /command:remote:CopyToRemote::vm-u-install-code$/);
  });

  it("replaces (only on request) by deleting first: the old delete would carry the new install's token", async () => {
    await build("vm-h");
    const sidecarOptions: pulumi.CustomResourceOptions = options.get("vm-h-sidecar") ?? {};
    assert.equal(sidecarOptions.deleteBeforeReplace, true);
  });

  it("hands the provider exactly the commands of vmSidecarCommands: install for create (and so update), no triggers", async () => {
    await build("vm-b");
    const inputs = resource("vm-b-sidecar").inputs;
    const expected = vmSidecarCommands(VM, "203.0.113.10", { ...STACK, owner: { project: "thanos-global-view", stack: "test" } });
    assert.equal(inputs.create, expected.install);
    // Unset, the provider runs create for an update: the install is stored once in inputs, once in outputs.
    assert.equal(inputs.update, undefined);
    assert.equal(inputs.delete, expected.delete);
    assert.equal(inputs.triggers, undefined);
    assert.equal(inputs.logging, "stdoutAndStderr");
    assert.equal(inputs.addPreviousOutputInEnv, false);
  });

  it("connects with the given host, port, user, key and pinned host keys, bastion included", async () => {
    await build("vm-c", {
      vm: { ...VM, port: 2222, user: "ops", hostKey: HOST_KEY, proxy: { host: "bastion.example.com", port: 22, user: "jump", hostKey: BASTION_KEY } },
      host: pulumi.output("vm-c.internal"),
    });
    const { inputs } = resource("vm-c-sidecar");
    assert.ok(isWrappedSecret(inputs.connection), "the connection is not secret");
    const connection = unwrap(inputs.connection) as Record<string, unknown>;
    assert.equal(connection.host, "vm-c.internal");
    assert.equal(connection.port, 2222);
    assert.equal(connection.user, "ops");
    assert.equal(unwrap(connection.privateKey), PRIVATE_KEY);
    assert.equal(connection.hostKey, HOST_KEY);
    // A VM that drops packets fails after about a minute (6 dials of 10 s), not the provider's default 11 of 15 s.
    assert.deepEqual([connection.dialErrorLimit, connection.perDialTimeout], [5, 10]);
    const proxy = connection.proxy as Record<string, unknown>;
    assert.deepEqual([proxy.dialErrorLimit, proxy.perDialTimeout], [5, 10]);
    assert.deepEqual(
      { host: proxy.host, port: proxy.port, user: proxy.user, hostKey: proxy.hostKey, privateKey: unwrap(proxy.privateKey) },
      { host: "bastion.example.com", port: 22, user: "jump", hostKey: BASTION_KEY, privateKey: PRIVATE_KEY },
    );
    assert.match(String(inputs.create), /^sudo -n bash -c '/, "a non-root user needs sudo");
  });

  it("feeds the secrets on a secret stdin and keeps stdout and stderr secret", async () => {
    const sidecar = await build("vm-d", {
      tls: { caCert: pulumi.secret("CA-PEM"), cert: pulumi.secret("CERT-PEM"), key: pulumi.secret(TLS_KEY) },
    });
    const { inputs } = resource("vm-d-sidecar");
    assert.ok(isWrappedSecret(inputs.stdin), "stdin is not secret");
    assert.equal(await pulumi.isSecret(sidecar.install.stdin), true);
    const entries = parsePayload(String(unwrap(inputs.stdin)));
    assert.match(entries["objstore.yml"], new RegExp(`secret_key: ${SECRET_KEY}`));
    assert.equal(entries["tls-ca.crt"], "CA-PEM");
    assert.equal(entries["tls-server.crt"], "CERT-PEM");
    assert.equal(entries["tls-server.key"], TLS_KEY);
    assert.equal(entries.redact, SECRET_KEY);
    const sidecarOptions: pulumi.CustomResourceOptions = options.get("vm-d-sidecar") ?? {};
    const secretOutputs = sidecarOptions.additionalSecretOutputs ?? [];
    for (const output of ["stdout", "stderr", "connection"]) assert.ok(secretOutputs.includes(output), `${output} is not a secret output`);
    assert.match(String(inputs.create), /--grpc-server-tls-client-ca=\/etc\/thanos-global-view\/tls\/ca\.crt/);
  });

  it("puts no secret in any command string or plain output", async () => {
    const sidecar = await build("vm-e", {
      tls: { caCert: pulumi.secret("CA-PEM"), cert: pulumi.secret("CERT-PEM"), key: pulumi.secret(TLS_KEY) },
      prometheusAccess: pulumi.secret({ credentials: { username: "prom", password: PROMETHEUS_PASSWORD } }),
      vm: { ...VM, prometheusClientConfig: true },
    });
    const expected: Record<string, string[]> = { "vm-e-sidecar": ["create", "delete"] };
    const checked: string[] = [];
    for (const entry of registered.filter((candidate) => candidate.type === "command:remote:Command")) {
      for (const field of ["create", "update", "delete"]) {
        const text = JSON.stringify(entry.inputs[field] ?? "");
        for (const secret of SECRETS) assert.ok(!text.includes(secret), `${entry.name}.${field} holds ${secret}`);
        if (expected[entry.name]?.includes(field)) {
          // An empty or unrendered command would hold no secret either: each must carry its script.
          assert.ok(text.includes("#!/bin/bash"), `${entry.name}.${field} holds no script`);
          assert.ok(text.includes(VM.name), `${entry.name}.${field} does not name the VM`);
          checked.push(`${entry.name}.${field}`);
        }
      }
    }
    const wanted = Object.entries(expected).flatMap(([name, fields]) => fields.map((field) => `${name}.${field}`));
    assert.deepEqual(checked.sort(), wanted.sort());
    for (const output of [sidecar.grpcAddress, sidecar.httpAddress]) {
      assert.equal(await pulumi.isSecret(output), false);
      for (const secret of SECRETS) assert.ok(!(await valueOf(output)).includes(secret));
    }
  });

  it("installs only after what it is told to wait for (the fleet's label check, the previous HA replica)", async () => {
    const previous = await build("vm-p");
    await build("vm-f", {}, [pulumi.output([previous.install])]);
    const dependsOn = options.get("vm-f-sidecar")?.dependsOn as pulumi.Input<pulumi.Resource>[];
    assert.equal(dependsOn.length, 2);
    const [waitedFor] = await valueOf(pulumi.output(dependsOn[1]) as unknown as pulumi.Output<pulumi.Resource[]>);
    assert.equal(waitedFor, previous.install);
  });

  it("sends Prometheus' credentials in the secret payload, and hides them in journal lines", async () => {
    await build("vm-q", {
      prometheusAccess: pulumi.secret({ credentials: { username: "prom", password: PROMETHEUS_PASSWORD }, caCert: "CA-PEM" }),
      vm: { ...VM, prometheusClientConfig: true },
    });
    const { inputs } = resource("vm-q-sidecar");
    const entries = parsePayload(String(unwrap(inputs.stdin)));
    assert.equal(entries["prometheus-curl.conf"], `user = "prom:${PROMETHEUS_PASSWORD}"\n`);
    assert.equal(entries["prometheus-ca.crt"], "CA-PEM");
    assert.match(entries["prometheus-http.yml"], new RegExp(`basic_auth:\n  username: prom\n  password: ${PROMETHEUS_PASSWORD}\n`));
    assert.deepEqual(entries.redact.split("\n"), [SECRET_KEY, PROMETHEUS_PASSWORD]);
    assert.match(String(inputs.create), /--prometheus\.http-client-file=\/etc\/thanos-global-view\/prometheus-http\.yml/);
  });

  it("sets Prometheus up when asked, then reads its labels, both with the credentials on a secret stdin and no delete", async () => {
    const vm = { ...VM, configurePrometheus: { externalLabels: { cluster: "prom_vm" }, blockDuration: "2h" } };
    const sidecar = await build("vm-s", { vm, prometheusAccess: pulumi.secret({ credentials: { bearerToken: PROMETHEUS_PASSWORD } }) });
    const expected = vmPrometheusCommands(vm);
    const setup = resource("vm-s-prometheus-setup");
    const labels = resource("vm-s-external-labels");
    assert.equal(setup.inputs.create, expected.setup);
    assert.equal(labels.inputs.create, expected.externalLabels);
    for (const command of [setup, labels]) {
      assert.equal(command.inputs.delete, undefined);
      assert.ok(isWrappedSecret(command.inputs.stdin), `${command.name}: stdin is not secret`);
      assert.equal(parsePayload(String(unwrap(command.inputs.stdin)))["prometheus-curl.conf"], `header = "Authorization: Bearer ${PROMETHEUS_PASSWORD}"\n`);
    }
    const dependsOn = options.get("vm-s-external-labels")?.dependsOn as pulumi.Resource[];
    const urns = await Promise.all(dependsOn.map((dependency) => valueOf(dependency.urn)));
    assert.equal(urns.length, 1);
    assert.match(urns[0], /command:remote:Command::vm-s-prometheus-setup$/);
    assert.deepEqual(await valueOf(sidecar.externalLabels), { cluster: "vm-s" });
  });

  it("advertises IPv6 addresses in brackets", async () => {
    const sidecar = await build("vm-g", { advertiseAddress: pulumi.output("fd00::158") });
    assert.equal(await valueOf(sidecar.grpcAddress), "[fd00::158]:10901");
  });
});
