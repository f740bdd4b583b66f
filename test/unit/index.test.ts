import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { byType, isSecretInput, recorded, reveal, runProgram, stackOutputs, valueOf, vmExternalLabels } from "../harness/mocks";
import { runCommand } from "../harness/command";
import { parsePayload } from "../harness/vm";
import { FAKE_SSH_KEY_MARKER } from "../fixtures/fakeKeys";
import { FAKE_CA_CERT, FAKE_CERT, FAKE_OBJSTORE_SECRET, FAKE_QUERIER_TLS_KEY, FAKE_SIDECAR_CERT, FAKE_SSH_KEY, FAKE_TLS_KEY, referenceConfig, REFERENCE_QUERIER_ARGS_0_34_1, REFERENCE_SECRET_KEYS, tlsConfig, VM_HOST_KEY, withAllComponents } from "../harness/configs";

type Outputs = Record<string, any>;

async function outputsOf(exports: Record<string, unknown>): Promise<Outputs> {
  const names = ["vmSidecarGrpcAddresses", "vmSidecarHttpAddresses", "querierStores", "querierHttpUrl", "objstoreBucket", "thanosVersion"];
  return Object.fromEntries(await Promise.all(names.map(async (name) => [name, await valueOf(exports[name] as any)])));
}

function withTwoVms(config: Record<string, any>) {
  config.vms.push({
    name: "prom-edge",
    host: "198.51.100.20",
    advertiseAddress: "10.0.0.159",
    tsdbPath: "/srv/prometheus",
    grpcPort: 19091,
    httpPort: 19092,
  });
  return config;
}

const containerArgs = () => {
  const [deployment] = byType("kubernetes:apps/v1:Deployment");
  return (deployment.inputs as any).spec.template.spec.containers[0].args as string[];
};

/** Three VMs: an HA pair in haGroup "eu" (config order a, then b) and one on its own. */
function haFleet(): Record<string, any> {
  const config = referenceConfig() as Record<string, any>;
  const [template] = config.vms;
  config.vms = [
    { ...template, name: "prom-eu-a", host: "10.0.1.1", haGroup: "eu" },
    { ...template, name: "prom-us", host: "10.0.1.2" },
    { ...template, name: "prom-eu-b", host: "10.0.1.3", haGroup: "eu" },
  ];
  vmExternalLabels.set("prom-eu-a", { cluster: "eu", prometheus_replica: "a" });
  vmExternalLabels.set("prom-eu-b", { cluster: "eu", prometheus_replica: "b" });
  return config;
}

/** The resources a VM's install waits for, by name. */
function installWaitsFor(vm: string): string[] {
  return [...byType("command:remote:Command").find((resource) => resource.name === `${vm}-sidecar`)!.dependencies].sort();
}

describe("index.ts", () => {
  it("changes the replicas of an haGroup one after another, after the fleet's labels were read and checked", async () => {
    await runProgram(haFleet(), REFERENCE_SECRET_KEYS);
    // Each install depends on its upload and its HA predecessor only: the state does not grow with the square of the
    // fleet. It is registered after every label read, though: it waits for the check.
    assert.deepEqual(installWaitsFor("prom-eu-a"), ["prom-eu-a-install-code"]);
    assert.deepEqual(installWaitsFor("prom-us"), ["prom-us-install-code"]);
    assert.deepEqual(installWaitsFor("prom-eu-b"), ["prom-eu-a-sidecar", "prom-eu-b-install-code"]);
    const registered = (suffix: string) => recorded.filter((resource) => resource.name.endsWith(suffix)).map((resource) => resource.registeredAt);
    assert.ok(Math.min(...registered("-sidecar")) > Math.max(...registered("-external-labels")), "an install was registered before a label read");
    // The first replica stays ready long enough for the querier to find it again before the second goes down.
    const settle = (vm: string) => /readonly SETTLE_SECONDS=(\d+)/.exec(String(byType("command:remote:Command").find((r) => r.name === `${vm}-sidecar`)!.inputs.create))![1];
    assert.deepEqual(["prom-eu-a", "prom-us", "prom-eu-b"].map(settle), ["35", "0", "0"]);
  });

  it("sets up the Prometheus servers of an haGroup one after another: two replicas never restart together", async () => {
    const config = haFleet();
    for (const [index, replica] of [[0, "a"], [1, undefined], [2, "b"]] as const) {
      config.vms[index].configurePrometheus = { externalLabels: replica ? { cluster: "eu", prometheus_replica: replica } : { cluster: "us" } };
    }
    await runProgram(config, REFERENCE_SECRET_KEYS);
    const setupWaitsFor = (vm: string) => [...byType("command:remote:Command").find((resource) => resource.name === `${vm}-prometheus-setup`)!.dependencies].sort();
    assert.deepEqual(setupWaitsFor("prom-eu-a"), []);
    assert.deepEqual(setupWaitsFor("prom-us"), []);
    assert.deepEqual(setupWaitsFor("prom-eu-b"), ["prom-eu-a-prometheus-setup"]);
  });

  it("refuses a label set two VMs report, naming both, before any install is registered", async () => {
    const labels = { "prom-eu-a": { cluster: "eu", prometheus_replica: "a" }, "prom-us": { cluster: "eu", prometheus_replica: "a" } };
    const result = await runCommand(process.execPath, ["--import", "tsx", require.resolve("../harness/programFailures")], {
      env: {
        ...process.env,
        PROGRAM_CONFIG: JSON.stringify(haFleet()),
        PROGRAM_SECRET_KEYS: JSON.stringify(REFERENCE_SECRET_KEYS),
        PROGRAM_LABELS: JSON.stringify(labels),
      },
    });
    const { failures, registered } = JSON.parse(result.stdout.trim().split("\n").pop()!) as { failures: string[]; registered: string[] };
    assert.ok(failures.length > 0, "the program did not fail");
    assert.match(failures[0], /thanos-global-view:vms\[1\]: prom-us: its Prometheus reports the external labels \{cluster="eu", prometheus_replica="a"\}, as does vms\[0\] \(prom-eu-a\)/);
    assert.ok(registered.includes("prom-us-external-labels"), registered.join(", "));
    assert.deepEqual(registered.filter((name) => name.endsWith("-sidecar")), [], "an install was registered");
  });

  it("builds the reference setup and exports its outputs", async () => {
    const exports = await runProgram(withTwoVms(referenceConfig()), REFERENCE_SECRET_KEYS);
    const outputs = await outputsOf(exports);
    assert.deepEqual(outputs.vmSidecarGrpcAddresses, ["10.0.0.158:10901", "10.0.0.159:19091"]);
    assert.deepEqual(outputs.vmSidecarHttpAddresses, ["10.0.0.158:10902", "10.0.0.159:19092"]);
    assert.deepEqual(outputs.querierStores, [
      "dnssrv+_grpc._tcp.sidecar.thanos.svc.cluster.local",
      "10.0.0.158:10901",
      "10.0.0.159:19091",
    ]);
    assert.equal(outputs.querierHttpUrl, "http://thanos-querier.thanos.svc.cluster.local:10902");
    assert.equal(outputs.objstoreBucket, "thanos");
    assert.equal(outputs.thanosVersion, "0.42.4");
  });

  it("dials the endpoint each component reports: the sidecar Service, each VM in config order, then extra endpoints", async () => {
    const config = withTwoVms(referenceConfig());
    config.kubernetes.querier.extraEndpoints = ["dnssrv+_grpc._tcp.thanos-store.thanos.svc.cluster.local"];
    const outputs = await outputsOf(await runProgram(config, REFERENCE_SECRET_KEYS));
    assert.deepEqual(outputs.querierStores, [
      "dnssrv+_grpc._tcp.sidecar.thanos.svc.cluster.local",
      "10.0.0.158:10901",
      "10.0.0.159:19091",
      "dnssrv+_grpc._tcp.thanos-store.thanos.svc.cluster.local",
    ]);
  });

  it("dials the sidecar Service in its own namespace, by plain DNS when asked, and not at all when it is off", async () => {
    const config = referenceConfig() as Record<string, any>;
    config.kubernetes.sidecarService = { namespace: "monitoring", discovery: "dns", port: 10911 };
    const outputs = await outputsOf(await runProgram(config, REFERENCE_SECRET_KEYS));
    const [service] = byType("kubernetes:core/v1:Service").filter((resource) => (resource.inputs as any).metadata.name === "sidecar");
    assert.equal((service.inputs as any).metadata.namespace, "monitoring");
    assert.deepEqual(outputs.querierStores, ["dns+sidecar.monitoring.svc.cluster.local:10911", "10.0.0.158:10901"]);
    config.kubernetes.sidecarService = { enabled: false };
    assert.deepEqual((await outputsOf(await runProgram(config, REFERENCE_SECRET_KEYS))).querierStores, ["10.0.0.158:10901"]);
    assert.equal(byType("thanos-global-view:kubernetes:SidecarService").length, 0);
  });

  it("registers each component with its children", async () => {
    await runProgram(referenceConfig(), REFERENCE_SECRET_KEYS);
    const types = recorded.map((resource) => resource.type);
    for (const type of [
      "kubernetes:core/v1:Namespace",
      "thanos-global-view:storage:ObjectStore",
      "thanos-global-view:vm:Sidecar",
      "command:remote:Command",
      "thanos-global-view:kubernetes:SidecarService",
      "thanos-global-view:kubernetes:Querier",
      "kubernetes:apps/v1:Deployment",
    ]) {
      assert.ok(types.includes(type), `${type} was not registered`);
    }
    assert.equal(byType("aws:s3/bucket:Bucket").length, 0, "no bucket without createBucket");
  });

  it("hands the querier the 0.42.4 sd-config holding the Service and every VM", async () => {
    await runProgram(withTwoVms(referenceConfig()), REFERENCE_SECRET_KEYS);
    const args = containerArgs();
    const sdConfig = args.find((arg) => arg.startsWith("--endpoint.sd-config="))!;
    assert.deepEqual(parse(sdConfig.slice("--endpoint.sd-config=".length)), {
      endpoints: [
        { address: "dnssrv+_grpc._tcp.sidecar.thanos.svc.cluster.local" },
        { address: "10.0.0.158:10901" },
        { address: "10.0.0.159:19091" },
      ],
    });
    const [deployment] = byType("kubernetes:apps/v1:Deployment");
    assert.equal((deployment.inputs as any).spec.template.spec.containers[0].image, "quay.io/thanos/thanos:v0.42.4");
  });

  it("renders the reference team's flags for 0.34.1", async () => {
    const config = referenceConfig();
    config.thanosVersion = "0.34.1";
    await runProgram(config, REFERENCE_SECRET_KEYS);
    assert.deepEqual(containerArgs(), REFERENCE_QUERIER_ARGS_0_34_1);
  });

  it("reads a VM's host from another stack through one StackReference", async () => {
    stackOutputs.set("acme/network/prod", { promVmIp: "10.9.0.5", promVmPublicIp: "203.0.113.5" });
    const config = referenceConfig() as Record<string, any>;
    config.vms[0].host = { stack: "acme/network/prod", output: "promVmPublicIp" };
    config.vms[0].advertiseAddress = { stack: "acme/network/prod", output: "promVmIp" };
    const outputs = await outputsOf(await runProgram(config, REFERENCE_SECRET_KEYS));
    assert.deepEqual(outputs.vmSidecarGrpcAddresses, ["10.9.0.5:10901"]);
    assert.equal(byType("pulumi:pulumi:StackReference").length, 1);
    const [install] = byType("command:remote:Command");
    assert.equal(reveal(install.inputs.connection).host, "203.0.113.5");
  });

  it("connects over SSH with the pinned host key and keeps every secret out of commands and plain outputs", async () => {
    // Every component on, so every output has a value and every spec is searched.
    const config = withAllComponents(referenceConfig());
    config.tls = tlsConfig();
    const exports = await runProgram(config, [...REFERENCE_SECRET_KEYS, "tls"]);
    const commands = byType("command:remote:Command");
    assert.ok(commands.length > 0);
    for (const { inputs } of commands as { inputs: any }[]) {
      assert.ok(isSecretInput(inputs.connection), "the connection holds the private key: it must be secret");
      assert.equal(reveal(inputs.connection).hostKey, VM_HOST_KEY);
      assert.equal(reveal(inputs.connection).privateKey, FAKE_SSH_KEY);
      assert.equal(inputs.update, undefined, "update falls back to create");
      // Only the sidecar has something to undo; Prometheus' setup and its labels are Prometheus' own.
      for (const field of inputs.delete === undefined ? ["create"] : ["create", "delete"]) {
        // JSON, so a value wrapped as a secret is searched too instead of becoming "[object Object]".
        const script = JSON.stringify(inputs[field] ?? "");
        // An empty command would hold no secret either: each must carry its script.
        assert.ok(script.includes("#!/bin/bash"), `${field} holds no script`);
        // Single-line markers: JSON escapes the newlines of a whole PEM.
        for (const secret of [FAKE_SSH_KEY_MARKER, FAKE_OBJSTORE_SECRET, "FAKE-TLS-KEY-MATERIAL"]) {
          assert.ok(!script.includes(secret), `${field} holds a secret`);
        }
      }
    }
    for (const [name, output] of Object.entries(exports)) {
      const text = JSON.stringify(await valueOf(output as any));
      assert.ok(!text.includes(FAKE_OBJSTORE_SECRET) && !text.includes("FAKE-TLS-KEY") && !text.includes("FAKE-SSH-KEY"), `${name} leaks a secret`);
    }
    const nonCommandInputs = JSON.stringify(recorded.filter((r) => r.type !== "command:remote:Command" && r.type !== "kubernetes:core/v1:Secret"));
    assert.ok(!nonCommandInputs.includes(FAKE_OBJSTORE_SECRET) && !nonCommandInputs.includes("FAKE-TLS-KEY"));
  });

  it("creates the bucket through an S3 provider pointed at MinIO when asked", async () => {
    const config = referenceConfig() as Record<string, any>;
    config.objstore.createBucket = true;
    await runProgram(config, REFERENCE_SECRET_KEYS);
    const [provider] = byType("pulumi:providers:aws");
    const inputs = provider.inputs as any;
    assert.equal(inputs.s3UsePathStyle, "true");
    assert.equal(inputs.skipCredentialsValidation, "true");
    assert.equal(inputs.skipRequestingAccountId, "true");
    assert.match(inputs.endpoints, /"s3":"http:\/\/10\.0\.0\.160:9000"/);
    const [bucket] = byType("aws:s3/bucket:Bucket");
    assert.equal((bucket.inputs as any).bucket, "thanos");
  });

  it("wires each TLS file where it belongs: the querier's pair to its Secret, the sidecar's pair and the CA to the VM", async () => {
    const config = referenceConfig();
    config.tls = tlsConfig();
    await runProgram(config, [...REFERENCE_SECRET_KEYS, "tls"]);
    const [secret] = byType("kubernetes:core/v1:Secret");
    assert.deepEqual(reveal((secret.inputs as any).stringData), { "ca.crt": FAKE_CA_CERT, "tls.crt": FAKE_CERT, "tls.key": FAKE_QUERIER_TLS_KEY });
    const install = byType("command:remote:Command").find((resource) => resource.name === "prom-vm-sidecar")!;
    const entries = parsePayload(reveal((install.inputs as any).stdin));
    assert.equal(entries["tls-ca.crt"], FAKE_CA_CERT);
    assert.equal(entries["tls-server.crt"], FAKE_SIDECAR_CERT);
    assert.equal(entries["tls-server.key"], FAKE_TLS_KEY);
  });

  it("keeps the in-cluster sidecar's objstore Secret secret", async () => {
    const config = referenceConfig() as Record<string, any>;
    config.kubernetes.objstoreSecret = { name: "thanos-objstore" };
    const exports = await runProgram(config, REFERENCE_SECRET_KEYS);
    await valueOf(exports.objstoreBucket as any);
    const [secret] = byType("kubernetes:core/v1:Secret");
    assert.ok(isSecretInput((secret.inputs as any).stringData));
    const yaml = parse(reveal((secret.inputs as any).stringData)["objstore.yml"]);
    assert.deepEqual(yaml, {
      type: "S3",
      config: { bucket: "thanos", endpoint: "10.0.0.160:9000", region: "us-east-1", access_key: "thanos", secret_key: FAKE_OBJSTORE_SECRET, insecure: true },
    });
  });

  it("fails before registering any resource when the config is bad", async () => {
    const config = referenceConfig() as Record<string, any>;
    config.vms[0].tsdbPath = "metrics2";
    await assert.rejects(runProgram(config, REFERENCE_SECRET_KEYS), /thanos-global-view:vms\[0\]\.tsdbPath: must be an absolute path/);
    assert.equal(recorded.length, 0);
  });
});
