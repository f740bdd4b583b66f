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
import { VmFleet } from "./components/vmFleet";
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

const vmFleet = new VmFleet("vms", {
  vms: config.vms,
  hosts: new StackOutputHosts(),
  sshPrivateKey: pulumi.secret(config.sshPrivateKey ?? ""),
  thanosVersion: config.thanosVersion,
  thanosDownload: config.thanosDownload,
  objstore: objstoreSettings,
  objstoreSecretKey,
  tls: config.tls && {
    caCert: pulumi.secret(config.tls.caCert),
    cert: pulumi.secret(config.tls.sidecarCert),
    key: pulumi.secret(config.tls.sidecarKey),
  },
  prometheusCredentials: config.prometheusCredentials,
  replicaLabels: kubernetesConfig.querier.replicaLabels,
  querierInfoTimeout: kubernetesConfig.querier.infoTimeout,
  bucket: objectStore,
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
        ...vmFleet.endpoints,
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

export const vmSidecarGrpcAddresses = vmFleet.grpcAddresses;
export const vmSidecarHttpAddresses = vmFleet.httpAddresses;
export const querierStores = querier.stores;
export const querierHttpUrl = querier.httpUrl;
export const queryFrontendUrl = queryFrontend?.url;
export const objstoreBucket = objectStore.bucket;
export const thanosVersion = config.thanosVersion.text;
