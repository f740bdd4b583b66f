/** The stack's querier endpoint list, derived from its configuration. */
import type { StackConfig } from "./config";
import { sidecarServiceEndpoint, type QuerierEndpoint } from "./querier";

/** The gRPC port name of the sidecar Service; DNS SRV discovery looks it up by this name. */
export const SIDECAR_SERVICE_PORT_NAME = "grpc";

/**
 * Every endpoint the querier dials, in a stable order: the in-cluster sidecar Service, each VM sidecar in config
 * order (given their resolved gRPC addresses), then the extra endpoints.
 */
export function querierEndpoints(config: StackConfig, vmGrpcAddresses: readonly string[]): QuerierEndpoint[] {
  const { sidecarService, namespace, clusterDomain } = config.kubernetes;
  const endpoints: QuerierEndpoint[] = [];
  if (sidecarService.enabled) {
    endpoints.push({
      address: sidecarServiceEndpoint({
        name: sidecarService.name,
        namespace: sidecarService.namespace ?? namespace,
        clusterDomain,
        port: sidecarService.port,
        portName: SIDECAR_SERVICE_PORT_NAME,
        discovery: sidecarService.discovery,
      }),
      tls: config.tls?.inClusterSidecar ?? false,
    });
  }
  endpoints.push(...vmGrpcAddresses.map((address) => ({ address, tls: config.tls !== undefined })));
  endpoints.push(...config.kubernetes.querier.extraEndpoints);
  return endpoints;
}
