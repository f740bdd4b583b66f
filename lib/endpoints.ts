/** The endpoints a querier dials, and how client TLS can reach them, as plain functions of typed input. */
import { supportsPerEndpointTls, type ThanosVersion } from "./thanosVersion";

export interface QuerierEndpoint {
  /** What the querier dials: host:port, or a dns+/dnssrv+ service-discovery name. */
  address: string;
  /** Whether the endpoint serves gRPC with TLS (and wants the querier's client certificate). */
  tls: boolean;
}

/** The gRPC port name of the stack's headless Services; DNS SRV discovery looks it up by this name. */
export const GRPC_PORT_NAME = "grpc";

export interface ServiceDiscovery {
  name: string;
  namespace: string;
  clusterDomain: string;
  port: number;
  /** dnssrv: every pod behind a headless Service through its SRV records; dns: the A records at a fixed port. */
  discovery: "dnssrv" | "dns";
}

/** The address through which a querier finds every pod behind a headless Service with a `grpc` port. */
export function serviceEndpointAddress(service: ServiceDiscovery): string {
  const fqdn = `${service.name}.${service.namespace}.svc.${service.clusterDomain}`;
  return service.discovery === "dnssrv" ? `dnssrv+_${GRPC_PORT_NAME}._tcp.${fqdn}` : `dns+${fqdn}:${service.port}`;
}

const plainAddresses = (endpoints: readonly QuerierEndpoint[]) =>
  endpoints.filter((endpoint) => !endpoint.tls).map((endpoint) => endpoint.address).join(", ");

const isDiscovered = (address: string) => /^dns(srv)?\+/.test(address);

/**
 * Where client TLS is switched on: globally (flags; every endpoint, the only way before 0.42 and the only way
 * for DNS-discovered endpoints) or per static endpoint in the sd-config (0.42 and later). Throws when the endpoints
 * need a mix the version cannot express.
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
  if (withTls.some((endpoint) => isDiscovered(endpoint.address))) {
    throw new Error(
      `DNS-discovered endpoints (dns+/dnssrv+) follow the querier's global TLS switch, which would also apply to ` +
        `${plainAddresses(endpoints)}; use TLS for those too`,
    );
  }
  return "per-endpoint";
}
