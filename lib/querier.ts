/** The querier's command line and its endpoint types, as plain functions of typed input. */
import { stringify } from "yaml";
import { clientTlsMode, type QuerierEndpoint } from "./endpoints";
import { endpointStyle, type ThanosVersion } from "./thanosVersion";

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

/**
 * The key of an endpoint's client settings in the sd-config: `client_config` in 0.42.x, renamed `grpc_client_config`
 * after it (cmd/thanos/endpointset.go). Thanos parses this document leniently, so a wrong key would silently drop TLS.
 */
function clientConfigKey(version: ThanosVersion): string {
  return version.minor === 42 ? "client_config" : "grpc_client_config";
}

/** The `--endpoint.sd-config` document: `endpoints[].address`, plus per-endpoint client TLS for static endpoints. */
function renderEndpointSdConfig(
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
