/**
 * thanos-global-view: Thanos sidecars beside Prometheus on VMs and in Kubernetes, joined by one Thanos Querier.
 * Config is parsed (and every problem reported) before any resource is registered; then the object store, the VM
 * sidecars, the in-cluster sidecar Service and the querier are built in that order, each VM's gRPC address wired
 * into the querier's endpoint list.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ObjectStore } from "./components/objectStore";
import { Querier } from "./components/querier";
import { SidecarService } from "./components/sidecarService";
import { VmSidecar } from "./components/vmSidecar";
import { checkStackOutputHost, parseStackConfig, PROJECT, type HostOrStackOutput, type StackConfig } from "./lib/config";
import { querierEndpoints } from "./lib/endpoints";

// The SDK exports isConfigSecret at runtime but leaves it out of its typings (@internal); it is how the SDK itself
// tells an encrypted config value from a plain one.
const { isConfigSecret } = pulumi.runtime as unknown as { isConfigSecret: (key: string) => boolean };

function readConfig(): StackConfig {
  const raw = pulumi.runtime.allConfig();
  const secretKeys = new Set(Object.keys(raw).filter((key) => isConfigSecret(key)));
  return parseStackConfig(raw, secretKeys);
}

/** Resolves a host given literally or as another stack's output; one StackReference per stack. */
function hostResolver(): (value: HostOrStackOutput, key: string) => pulumi.Output<string> {
  const references = new Map<string, pulumi.StackReference>();
  return (value, key) => {
    if (typeof value === "string") return pulumi.output(value);
    let reference = references.get(value.stack);
    if (!reference) {
      reference = new pulumi.StackReference(value.stack);
      references.set(value.stack, reference);
    }
    return reference.requireOutput(value.output).apply((resolved) => checkStackOutputHost(key, value, resolved));
  };
}

function buildStack(config: StackConfig) {
  const kubernetesConfig = config.kubernetes;
  const kubernetesProvider = kubernetesConfig.renderYamlToDirectory
    ? new k8s.Provider("render-yaml", { renderYamlToDirectory: kubernetesConfig.renderYamlToDirectory })
    : undefined;
  const kubernetesOptions = { provider: kubernetesProvider };

  const namespace = kubernetesConfig.createNamespace
    ? new k8s.core.v1.Namespace(
        "thanos",
        { metadata: { name: kubernetesConfig.namespace, labels: { "app.kubernetes.io/part-of": PROJECT } } },
        kubernetesOptions,
      ).metadata.name
    : pulumi.output(kubernetesConfig.namespace);

  const objstoreSecretKey = pulumi.secret(config.objstoreSecretKey);
  const { createBucket, ...objstoreSettings } = config.objstore;
  const objectStore = new ObjectStore(
    "objstore",
    {
      settings: objstoreSettings,
      secretKey: objstoreSecretKey,
      createBucket,
      kubernetesSecret: kubernetesConfig.objstoreSecret && {
        ...kubernetesConfig.objstoreSecret,
        namespace: kubernetesConfig.objstoreSecret.namespace ?? namespace,
      },
    },
    kubernetesOptions,
  );

  const resolveHost = hostResolver();
  const sshPrivateKey = pulumi.secret(config.sshPrivateKey ?? "");
  const sidecarTls = config.tls && {
    caCert: pulumi.secret(config.tls.caCert),
    cert: pulumi.secret(config.tls.sidecarCert),
    key: pulumi.secret(config.tls.sidecarKey),
  };
  const vmSidecars = config.vms.map((vm, index) => {
    const host = resolveHost(vm.host, `vms[${index}].host`);
    return new VmSidecar(
      vm.name,
      {
        vm,
        host,
        advertiseAddress: vm.advertiseAddress === undefined ? host : resolveHost(vm.advertiseAddress, `vms[${index}].advertiseAddress`),
        sshPrivateKey,
        thanosVersion: config.thanosVersion,
        thanosDownload: config.thanosDownload,
        objstore: objstoreSettings,
        objstoreSecretKey,
        tls: sidecarTls,
      },
      // The bucket must exist before a sidecar starts shipping blocks to it.
      { dependsOn: [objectStore] },
    );
  });

  const sidecarServiceConfig = kubernetesConfig.sidecarService;
  if (sidecarServiceConfig.enabled) {
    new SidecarService(
      "sidecar",
      {
        serviceName: sidecarServiceConfig.name,
        namespace: sidecarServiceConfig.namespace ?? namespace,
        selector: sidecarServiceConfig.selector,
        port: sidecarServiceConfig.port,
        targetPort: sidecarServiceConfig.targetPort,
      },
      kubernetesOptions,
    );
  }

  const vmSidecarGrpcAddresses = pulumi.all(vmSidecars.map((sidecar) => sidecar.grpcAddress));
  const querierConfig = kubernetesConfig.querier;
  const querier = new Querier(
    "querier",
    {
      querierName: querierConfig.name,
      namespace,
      version: config.thanosVersion,
      image: querierConfig.image,
      replicas: querierConfig.replicas,
      replicaLabels: querierConfig.replicaLabels,
      logLevel: querierConfig.logLevel,
      infoTimeout: querierConfig.infoTimeout,
      endpoints: vmSidecarGrpcAddresses.apply((addresses) => querierEndpoints(config, addresses)),
      resources: querierConfig.resources,
      clusterDomain: kubernetesConfig.clusterDomain,
      tls: config.tls && {
        caCert: pulumi.secret(config.tls.caCert),
        cert: pulumi.secret(config.tls.querierCert),
        key: pulumi.secret(config.tls.querierKey),
        serverName: config.tls.serverName,
      },
    },
    kubernetesOptions,
  );

  return {
    vmSidecarGrpcAddresses,
    vmSidecarHttpAddresses: pulumi.all(vmSidecars.map((sidecar) => sidecar.httpAddress)),
    querierStores: querier.stores,
    querierHttpUrl: querier.httpUrl,
    objstoreBucket: objectStore.bucket,
    thanosVersion: config.thanosVersion.text,
  };
}

const outputs = buildStack(readConfig());
export const vmSidecarGrpcAddresses = outputs.vmSidecarGrpcAddresses;
export const vmSidecarHttpAddresses = outputs.vmSidecarHttpAddresses;
export const querierStores = outputs.querierStores;
export const querierHttpUrl = outputs.querierHttpUrl;
export const objstoreBucket = outputs.objstoreBucket;
export const thanosVersion = outputs.thanosVersion;
