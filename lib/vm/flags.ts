import { joinHostPort } from "../address";
import { OBJSTORE_CONFIG_PATH, TLS_CA_PATH, TLS_CERT_PATH, TLS_KEY_PATH } from "./paths";
import type { VmSidecarSettings } from "./types";

export type SidecarFlagSettings = Pick<
  VmSidecarSettings,
  "tsdbPath" | "prometheusUrl" | "bindAddress" | "grpcPort" | "httpPort" | "logLevel"
>;

/** Arguments of `thanos`, starting with the `sidecar` subcommand; TLS adds the gRPC server cert, key and client CA. */
export function sidecarFlags(settings: SidecarFlagSettings, tls: boolean): string[] {
  return [
    "sidecar",
    `--log.level=${settings.logLevel}`,
    `--tsdb.path=${settings.tsdbPath}`,
    `--prometheus.url=${settings.prometheusUrl}`,
    `--objstore.config-file=${OBJSTORE_CONFIG_PATH}`,
    `--http-address=${joinHostPort(settings.bindAddress, settings.httpPort)}`,
    `--grpc-address=${joinHostPort(settings.bindAddress, settings.grpcPort)}`,
    ...(tls
      ? [
          `--grpc-server-tls-cert=${TLS_CERT_PATH}`,
          `--grpc-server-tls-key=${TLS_KEY_PATH}`,
          `--grpc-server-tls-client-ca=${TLS_CA_PATH}`,
        ]
      : []),
  ];
}
