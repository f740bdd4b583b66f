/**
 * thanos-global-view: Thanos sidecars beside Prometheus on VMs and in Kubernetes, joined by one Thanos Querier.
 * Config is parsed (and every problem reported) before any resource is registered; then the object store, each VM's
 * Prometheus (labels read, checked across the fleet) and sidecar, the in-cluster sidecar Service and the querier are
 * built, the querier dialling the endpoint each of the others reports.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ObjectStore } from "./components/objectStore";
import { Querier } from "./components/querier";
import { SidecarService } from "./components/sidecarService";
import { StackOutputHosts } from "./components/stackOutputHosts";
import { VmSidecar } from "./components/vmSidecar";
import { ConfigError, readStackConfig } from "./lib/config";
import { fleetLabelProblems, rolloutPredecessors, settleSeconds } from "./lib/fleet";
import { PART_OF_LABEL, PROJECT } from "./lib/project";

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
const predecessors = rolloutPredecessors(config.vms);
const settle = settleSeconds(kubernetesConfig.querier.infoTimeout);
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
      vm: {
        ...vm,
        prometheusClientConfig: config.prometheusCredentials?.[vm.name] !== undefined || vm.prometheusCaCert !== undefined,
        settleSeconds: predecessors.includes(index) ? settle : 0,
      },
      host,
      advertiseAddress: vm.advertiseAddress === undefined ? host : hosts.resolve(vm.advertiseAddress, `vms[${index}].advertiseAddress`),
      sshPrivateKey,
      thanosVersion: config.thanosVersion,
      thanosDownload: config.thanosDownload,
      objstore: objstoreSettings,
      objstoreSecretKey,
      tls: sidecarTls,
      prometheusAccess: pulumi.secret(pulumi.output({ credentials: config.prometheusCredentials?.[vm.name], caCert: vm.prometheusCaCert })),
    },
    // The bucket must exist before a sidecar starts shipping blocks to it.
    { dependsOn: [objectStore] },
  );
});
// Read from each VM (its Prometheus may have been set up by hand): a label set two VMs share fails every install,
// before any sidecar of the change starts. Known during `up` only; at preview configurePrometheus's labels are checked
// (and nothing runs). The installs wait for the check without depending on every label read in the state, which
// would grow with the square of the fleet: a plain promise holding no resources, resolved once the check passed.
const fleetChecked = new Promise<pulumi.Resource[]>((resolve, reject) => {
  if (pulumi.runtime.isDryRun()) return resolve([]);
  pulumi.all(vmSidecars.map((sidecar) => sidecar.externalLabels)).apply((labels) => {
    const members = config.vms.map((vm, index) => ({ index, name: vm.name, haGroup: vm.haGroup, labels: labels[index] }));
    const problems = fleetLabelProblems(members, kubernetesConfig.querier.replicaLabels, (member) => `${PROJECT}:vms[${member.index}]`, "its Prometheus reports");
    if (problems.length > 0) reject(new ConfigError(problems));
    else resolve([]);
  });
});
// The replicas of an haGroup change one after another: each install waits for the previous one's (ready) sidecar.
const installs: pulumi.Resource[] = [];
vmSidecars.forEach((sidecar, index) => {
  const previous = predecessors[index];
  installs.push(sidecar.deploy([fleetChecked, ...(previous === undefined ? [] : [[installs[previous]]])]));
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
