/** Shared stack configurations for the unit tests. */
import { FAKE_CA_CERT, FAKE_CERT, FAKE_QUERIER_TLS_KEY, FAKE_SIDECAR_CERT, FAKE_SSH_KEY, FAKE_TLS_KEY } from "../fixtures/fakeKeys";
import { PROJECT } from "../../lib/project";

export { FAKE_CA_CERT, FAKE_CERT, FAKE_QUERIER_TLS_KEY, FAKE_SIDECAR_CERT, FAKE_SSH_KEY, FAKE_TLS_KEY };
export const FAKE_OBJSTORE_SECRET = "objstore-secret-Zq81-never-in-plain-text";
export const VM_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ2bN0oK1d3m8vQ7n5kq0ZbQeFh3k2m1yXq4t7w9sR1c";

/** The reference setup: one VM Prometheus at 10.0.0.158, the in-cluster one behind Service sidecar in thanos. */
export function referenceConfig(): Record<string, unknown> {
  return {
    thanosVersion: "0.42.4",
    kubernetes: { namespace: "thanos", querier: { replicaLabels: ["prometheus_replica"], infoTimeout: "30s" } },
    vms: [
      {
        name: "prom-vm",
        host: "10.0.0.158",
        hostKey: VM_HOST_KEY,
        prometheusUrl: "http://localhost:9090",
        tsdbPath: "/var/lib/prometheus/metrics2",
      },
    ],
    sshPrivateKey: FAKE_SSH_KEY,
    objstore: { bucket: "thanos", endpoint: "10.0.0.160:9000", insecure: true, accessKey: "thanos" },
    objstoreSecretKey: FAKE_OBJSTORE_SECRET,
  };
}

/** The querier command line the reference team ran by hand, with --store spelled --endpoint as 0.34.1 allows. */
export const REFERENCE_QUERIER_ARGS_0_34_1 = [
  "query",
  "--log.level=info",
  "--grpc-address=0.0.0.0:10901",
  "--http-address=0.0.0.0:10902",
  "--query.replica-label=prometheus_replica",
  "--endpoint.info-timeout=30s",
  "--endpoint=dnssrv+_grpc._tcp.sidecar.thanos.svc.cluster.local",
  "--endpoint=10.0.0.158:10901",
];

export const REFERENCE_SECRET_KEYS = ["sshPrivateKey", "objstoreSecretKey"] as const;

export function tlsConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    caCert: FAKE_CA_CERT,
    sidecarCert: FAKE_SIDECAR_CERT,
    sidecarKey: FAKE_TLS_KEY,
    querierCert: FAKE_CERT,
    querierKey: FAKE_QUERIER_TLS_KEY,
    ...overrides,
  };
}

/** Encodes a config the way `pulumi.runtime.allConfig()` hands it over. */
export function asRawConfig(config: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => [
      `${PROJECT}:${key}`,
      typeof value === "string" ? value : JSON.stringify(value),
    ]),
  );
}

export const secretKeySet = (keys: readonly string[]) => new Set(keys.map((key) => `${PROJECT}:${key}`));

/** `config` with every optional Kubernetes component switched on with its defaults: store gateway, compactor, query
 * frontend and monitoring. */
export function withAllComponents(config: Record<string, unknown>): Record<string, unknown> {
  const kubernetes = (config.kubernetes ?? {}) as Record<string, unknown>;
  config.kubernetes = {
    ...kubernetes,
    storeGateway: { enabled: true },
    compactor: { enabled: true },
    queryFrontend: { enabled: true },
    monitoring: { enabled: true },
  };
  return config;
}
