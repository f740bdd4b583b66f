/** The querier's command line and its endpoint types, as plain functions of typed input. */
import { stringify } from "yaml";
import { endpointStyle, supportsPerEndpointTls, type ThanosVersion } from "./thanosVersion";

export interface QuerierEndpoint {
  /** What the querier dials: host:port, or a dns+/dnssrv+ service-discovery name. */
  address: string;
  /** Whether the endpoint serves gRPC with TLS (and wants the querier's client certificate). */
  tls: boolean;
}

/** Files of the querier's client certificate, as mounted in its container. */
export interface QuerierClientTls {
  certFile: string;
  keyFile: string;
  caFile: string;
  serverName?: string;
}

export interface QuerierArgsInput {
  version: ThanosVersion;
  logLevel: string;
  grpcAddress: string;
  httpAddress: string;
  replicaLabels: readonly string[];
  infoTimeout: string;
  endpoints: readonly QuerierEndpoint[];
  clientTls?: QuerierClientTls;
}

export interface SidecarServiceAddress {
  name: string;
  namespace: string;
  clusterDomain: string;
  port: number;
  portName: string;
  discovery: "dnssrv" | "dns";
}

/** The address through which the querier finds every replica behind the in-cluster sidecar Service. */
export function sidecarServiceEndpoint(service: SidecarServiceAddress): string {
  const fqdn = `${service.name}.${service.namespace}.svc.${service.clusterDomain}`;
  return service.discovery === "dnssrv" ? `dnssrv+_${service.portName}._tcp.${fqdn}` : `dns+${fqdn}:${service.port}`;
}

const plainAddresses = (endpoints: readonly QuerierEndpoint[]) =>
  endpoints.filter((endpoint) => !endpoint.tls).map((endpoint) => endpoint.address).join(", ");

const isDynamic = (address: string) => /^dns(srv)?\+/.test(address);

/**
 * Where client TLS is switched on: globally (flags; every endpoint, the only way before 0.42 and the only way
 * for DNS-discovered endpoints) or per static endpoint in the sd-config (0.42 and later).
 */
export function clientTlsMode(version: ThanosVersion, endpoints: readonly QuerierEndpoint[]): "none" | "global" | "per-endpoint" {
  const withTls = endpoints.filter((endpoint) => endpoint.tls);
  if (withTls.length === 0) return "none";
  if (withTls.length === endpoints.length) return "global";
  if (!supportsPerEndpointTls(version)) {
    throw new Error(
      `Thanos ${version.text} applies client TLS to all endpoints or none, but ${plainAddresses(endpoints)} would be plain; ` +
        "use TLS for every endpoint or Thanos 0.42.0 or later",
    );
  }
  if (withTls.some((endpoint) => isDynamic(endpoint.address))) {
    throw new Error(
      `DNS-discovered endpoints (dns+/dnssrv+) follow the querier's global TLS switch, which would also apply to ` +
        `${plainAddresses(endpoints)}; use TLS for those too`,
    );
  }
  return "per-endpoint";
}

/**
 * The key of an endpoint's client settings in the sd-config: `client_config` in 0.42.x, renamed `grpc_client_config`
 * after it (cmd/thanos/endpointset.go). Thanos parses this document leniently, so a wrong key would silently drop TLS.
 */
function clientConfigKey(version: ThanosVersion): string {
  return version.minor === 42 ? "client_config" : "grpc_client_config";
}

/** The `--endpoint.sd-config` document: `endpoints[].address`, plus per-endpoint client TLS for static endpoints. */
export function renderEndpointSdConfig(
  version: ThanosVersion,
  endpoints: readonly QuerierEndpoint[],
  perEndpointTls: QuerierClientTls | undefined,
): string {
  return stringify(
    {
      endpoints: endpoints.map((endpoint) =>
        perEndpointTls && endpoint.tls
          ? {
              address: endpoint.address,
              [clientConfigKey(version)]: {
                tls_config: {
                  enabled: true,
                  cert_file: perEndpointTls.certFile,
                  key_file: perEndpointTls.keyFile,
                  ca_file: perEndpointTls.caFile,
                },
                ...(perEndpointTls.serverName ? { server_name: perEndpointTls.serverName } : {}),
              },
            }
          : { address: endpoint.address },
      ),
    },
    { lineWidth: 0 },
  );
}

function globalClientTlsFlags(tls: QuerierClientTls): string[] {
  return [
    "--grpc-client-tls-secure",
    `--grpc-client-tls-cert=${tls.certFile}`,
    `--grpc-client-tls-key=${tls.keyFile}`,
    `--grpc-client-tls-ca=${tls.caFile}`,
    ...(tls.serverName ? [`--grpc-client-server-name=${tls.serverName}`] : []),
  ];
}

/** The `thanos` command line of the querier, in the form the configured version accepts. */
export function querierArgs(input: QuerierArgsInput): string[] {
  const tlsMode = clientTlsMode(input.version, input.endpoints);
  if (tlsMode !== "none" && !input.clientTls) {
    throw new Error("endpoints use TLS but the querier has no client certificate");
  }
  const args = [
    "query",
    `--log.level=${input.logLevel}`,
    `--grpc-address=${input.grpcAddress}`,
    `--http-address=${input.httpAddress}`,
    ...input.replicaLabels.map((label) => `--query.replica-label=${label}`),
    `--endpoint.info-timeout=${input.infoTimeout}`,
  ];
  if (tlsMode === "global") args.push(...globalClientTlsFlags(input.clientTls!));
  if (input.endpoints.length === 0) return args;
  if (endpointStyle(input.version) === "flags") {
    args.push(...input.endpoints.map((endpoint) => `--endpoint=${endpoint.address}`));
  } else {
    args.push(`--endpoint.sd-config=${renderEndpointSdConfig(input.version, input.endpoints, tlsMode === "per-endpoint" ? input.clientTls : undefined)}`);
  }
  return args;
}
