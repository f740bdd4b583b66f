import { joinHostPort } from "../address";
import type { VmConfig } from "../config";
import { OBJSTORE_CONFIG_PATH, TLS_CA_PATH, TLS_CERT_PATH, TLS_KEY_PATH } from "./paths";
import { PROMETHEUS_HTTP_CLIENT_PATH } from "./prometheusAccess";

/**
 * What of a VM's entry the sidecar's flags come from; `prometheusClientConfig` when Prometheus needs credentials or
 * a CA (the stack's prometheusCredentials for this VM, vms[].prometheusCaCert).
 */
export type SidecarFlagSettings = Pick<VmConfig, "tsdbPath" | "prometheusUrl" | "bindAddress" | "grpcPort" | "httpPort" | "logLevel"> & {
  prometheusClientConfig?: boolean;
};

/** Arguments of `thanos`, starting with the `sidecar` subcommand; TLS adds the gRPC server cert, key and client CA. */
export function sidecarFlags(vm: SidecarFlagSettings, tls: boolean): string[] {
  return [
    "sidecar",
    `--log.level=${vm.logLevel}`,
    `--tsdb.path=${vm.tsdbPath}`,
    `--prometheus.url=${vm.prometheusUrl}`,
    ...(vm.prometheusClientConfig ? [`--prometheus.http-client-file=${PROMETHEUS_HTTP_CLIENT_PATH}`] : []),
    `--objstore.config-file=${OBJSTORE_CONFIG_PATH}`,
    `--http-address=${joinHostPort(vm.bindAddress, vm.httpPort)}`,
    `--grpc-address=${joinHostPort(vm.bindAddress, vm.grpcPort)}`,
    ...(tls
      ? [
          `--grpc-server-tls-cert=${TLS_CERT_PATH}`,
          `--grpc-server-tls-key=${TLS_KEY_PATH}`,
          `--grpc-server-tls-client-ca=${TLS_CA_PATH}`,
        ]
      : []),
  ];
}
