/**
 * thanos-global-view: Thanos sidecars beside Prometheus on VMs and in Kubernetes, joined by one Thanos Querier.
 * Config is parsed (and every problem reported) before any resource is registered; then the object store, the VM
 * sidecars, the in-cluster sidecar Service and the querier are built, the querier dialling the endpoint each of the
 * others reports.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ObjectStore } from "./components/objectStore";
import { Querier } from "./components/querier";
import { SidecarService } from "./components/sidecarService";
import { StackOutputHosts } from "./components/stackOutputHosts";
import { VmSidecar } from "./components/vmSidecar";
import { readStackConfig } from "./lib/config";
import { PART_OF_LABEL } from "./lib/project";

const config = readStackConfig();
const kubernetesConfig = config.kubernetes;
const kubernetesOptions = {
  provider: kubernetesConfig.renderYamlToDirectory
    ? new k8s.Provider("render-yaml", { renderYamlToDirectory: kubernetesConfig.renderYamlToDirectory })
    : undefined,
};

const namespace = kubernetesConfig.createNamespace
  ? new k8s.core.v1.Namespace("thanos", { metadata: { name: kubernetesConfig.namespace, labels: PART_OF_LABEL } }, kubernetesOptions)
      .metadata.name
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

const hosts = new StackOutputHosts();
const sshPrivateKey = pulumi.secret(config.sshPrivateKey ?? "");
const sidecarTls = config.tls && {
  caCert: pulumi.secret(config.tls.caCert),
  cert: pulumi.secret(config.tls.sidecarCert),
  key: pulumi.secret(config.tls.sidecarKey),
};
const vmSidecars = config.vms.map((vm, index) => {
  const host = hosts.resolve(vm.host, `vms[${index}].host`);
  return new VmSidecar(
    vm.name,
    {
      vm,
      host,
      advertiseAddress: vm.advertiseAddress === undefined ? host : hosts.resolve(vm.advertiseAddress, `vms[${index}].advertiseAddress`),
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
const sidecarService = sidecarServiceConfig.enabled
  ? new SidecarService(
      "sidecar",
      {
        serviceName: sidecarServiceConfig.name,
        namespace: sidecarServiceConfig.namespace ?? namespace,
        selector: sidecarServiceConfig.selector,
        port: sidecarServiceConfig.port,
        targetPort: sidecarServiceConfig.targetPort,
        clusterDomain: kubernetesConfig.clusterDomain,
        discovery: sidecarServiceConfig.discovery,
        tls: config.tls?.inClusterSidecar ?? false,
      },
      kubernetesOptions,
    )
  : undefined;

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
    // In-cluster sidecars first, then each VM in config order, then the extra endpoints.
    endpoints: pulumi
      .all([...(sidecarService ? [sidecarService.endpoint] : []), ...vmSidecars.map((sidecar) => sidecar.endpoint)])
      .apply((endpoints) => [...endpoints, ...querierConfig.extraEndpoints]),
    resources: querierConfig.resources,
    readyTimeoutSeconds: querierConfig.readyTimeoutSeconds,
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

export const vmSidecarGrpcAddresses = pulumi.all(vmSidecars.map((sidecar) => sidecar.grpcAddress));
export const vmSidecarHttpAddresses = pulumi.all(vmSidecars.map((sidecar) => sidecar.httpAddress));
export const querierStores = querier.stores;
export const querierHttpUrl = querier.httpUrl;
export const objstoreBucket = objectStore.bucket;
export const thanosVersion = config.thanosVersion.text;
