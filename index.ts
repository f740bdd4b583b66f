/**
 * thanos-global-view: Thanos sidecars beside Prometheus on VMs and in Kubernetes, joined by one Thanos Querier, with
 * the bucket's history served back by store gateways, kept in shape by a compactor and cached by a query frontend.
 * Config is parsed (and every problem reported) before any resource is registered; then the object store, each VM's
 * Prometheus (labels read, checked across the fleet) and sidecar, the in-cluster sidecar Service, the store gateway,
 * the compactor, the querier (dialling the endpoint each of the others reports), the query frontend in front of it
 * and their monitoring are built.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Compactor } from "./components/compactor";
import { Monitoring } from "./components/monitoring";
import { ObjectStore } from "./components/objectStore";
import { Querier } from "./components/querier";
import { QueryFrontend } from "./components/queryFrontend";
import { SidecarService } from "./components/sidecarService";
import { StackOutputHosts } from "./components/stackOutputHosts";
import { StoreGateway } from "./components/storeGateway";
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

const { storeGateway: storeGatewayConfig, compactor: compactorConfig, queryFrontend: queryFrontendConfig, monitoring: monitoringConfig } =
  kubernetesConfig;

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
    // The store gateway and the compactor read the bucket: they mount the objstore config from a Secret beside them.
    componentsNamespace: storeGatewayConfig.enabled || compactorConfig.enabled ? namespace : undefined,
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
        httpTargetPort: monitoringConfig.enabled ? sidecarServiceConfig.httpTargetPort : undefined,
      },
      kubernetesOptions,
    )
  : undefined;

const storeGateway = storeGatewayConfig.enabled
  ? new StoreGateway(
      "store-gateway",
      {
        storeName: storeGatewayConfig.name,
        namespace,
        version: config.thanosVersion,
        image: storeGatewayConfig.image,
        replicas: storeGatewayConfig.replicas,
        storage: storeGatewayConfig.storage,
        resources: storeGatewayConfig.resources,
        logLevel: storeGatewayConfig.logLevel,
        indexCacheSize: storeGatewayConfig.indexCacheSize,
        chunkPoolSize: storeGatewayConfig.chunkPoolSize,
        timePartitions: storeGatewayConfig.timePartitions,
        // The compactor's delete delay, also when the compactor of this bucket runs elsewhere.
        compactorDeleteDelay: compactorConfig.deleteDelay,
        objstoreSecret: objectStore.componentsSecret!,
        clusterDomain: kubernetesConfig.clusterDomain,
      },
      kubernetesOptions,
    )
  : undefined;

const compactor = compactorConfig.enabled
  ? new Compactor(
      "compactor",
      {
        compactorName: compactorConfig.name,
        namespace,
        version: config.thanosVersion,
        image: compactorConfig.image,
        retention: compactorConfig.retention,
        downsampling: compactorConfig.downsampling,
        deleteDelay: compactorConfig.deleteDelay,
        concurrency: compactorConfig.concurrency,
        storage: compactorConfig.storage,
        resources: compactorConfig.resources,
        logLevel: compactorConfig.logLevel,
        objstoreSecret: objectStore.componentsSecret!,
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
    // In-cluster sidecars first, then each VM in config order, the store gateways, then the extra endpoints.
    endpoints: pulumi
      .all([
        ...(sidecarService ? [sidecarService.endpoint] : []),
        ...vmSidecars.map((sidecar) => sidecar.endpoint),
        ...(storeGateway ? [storeGateway.endpoint] : []),
      ])
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

const queryFrontend = queryFrontendConfig.enabled
  ? new QueryFrontend(
      "query-frontend",
      {
        frontendName: queryFrontendConfig.name,
        namespace,
        version: config.thanosVersion,
        image: queryFrontendConfig.image,
        replicas: queryFrontendConfig.replicas,
        downstreamUrl: querier.httpUrl,
        splitInterval: queryFrontendConfig.splitInterval,
        cache: queryFrontendConfig.cache,
        resources: queryFrontendConfig.resources,
        logLevel: queryFrontendConfig.logLevel,
        clusterDomain: kubernetesConfig.clusterDomain,
      },
      kubernetesOptions,
    )
  : undefined;

if (monitoringConfig.enabled) {
  new Monitoring(
    "monitoring",
    {
      namespace,
      targets: {
        querier: querier.metricsTarget,
        sidecar: sidecarService?.metricsTarget,
        storeGateway: storeGateway?.metricsTarget,
        compactor: compactor?.metricsTarget,
        queryFrontend: queryFrontend?.metricsTarget,
      },
      interval: monitoringConfig.interval,
      labels: monitoringConfig.labels,
    },
    kubernetesOptions,
  );
}

export const vmSidecarGrpcAddresses = pulumi.all(vmSidecars.map((sidecar) => sidecar.grpcAddress));
export const vmSidecarHttpAddresses = pulumi.all(vmSidecars.map((sidecar) => sidecar.httpAddress));
export const querierStores = querier.stores;
export const querierHttpUrl = querier.httpUrl;
export const queryFrontendUrl = queryFrontend?.url;
export const objstoreBucket = objectStore.bucket;
export const thanosVersion = config.thanosVersion.text;
