/**
 * The secret files travel to the VM on the command's stdin, never in its command string (the command provider puts
 * that string in error messages and state). Format, one entry a line, values base64 so any byte survives:
 *
 *   thanos-global-view-payload v1
 *   <entry> <base64>
 *   end
 *
 * The trailing `end` lets the script tell a complete payload from a truncated one; scripts/lib/payload.sh reads it.
 */
import { renderObjstoreYaml, type ObjstoreSettings } from "../objstore";
import { prometheusCurlConfig, prometheusHttpClientYaml, type PrometheusCredentials } from "./prometheusAccess";

export const PAYLOAD_MAGIC = "thanos-global-view-payload v1";

/** How the VM's Prometheus is reached, beyond its URL: credentials (secret) and the CA of an https Prometheus. */
export interface PrometheusAccess {
  credentials?: PrometheusCredentials;
  /** PEM. */
  caCert?: string;
}

interface VmSidecarSecrets {
  /** renderObjstoreYaml's output; only the install gets it. */
  objstoreYaml?: string;
  /** gRPC server TLS for the sidecar, all PEM. */
  tls?: { caCert: string; cert: string; key: string };
  prometheus: PrometheusAccess;
  /** Values the script must never show, even inside journal lines it prints (e.g. the S3 secret key). */
  redact: string[];
}

const credentialSecrets = (access: PrometheusAccess) =>
  access.credentials === undefined ? [] : ["password" in access.credentials ? access.credentials.password : access.credentials.bearerToken];

/**
 * What the VmSidecar component sends to the install: the objstore YAML, the TLS files, Prometheus' credentials and
 * CA, and the secrets to hide in output.
 */
export function sidecarSecrets(
  objstore: ObjstoreSettings,
  secretKey: string,
  tls: VmSidecarSecrets["tls"] | undefined,
  prometheus: PrometheusAccess,
): VmSidecarSecrets {
  return { objstoreYaml: renderObjstoreYaml(objstore, secretKey), tls, prometheus, redact: [secretKey, ...credentialSecrets(prometheus)] };
}

/** What the scripts that only talk to Prometheus (its setup, the read of its labels) get: its credentials and CA. */
export function prometheusSecrets(prometheus: PrometheusAccess): VmSidecarSecrets {
  return { prometheus, redact: credentialSecrets(prometheus) };
}

function entry(name: string, content: string): string {
  return `${name} ${Buffer.from(content, "utf8").toString("base64")}`;
}

export function vmSidecarPayload(secrets: VmSidecarSecrets): string {
  const tls = secrets.tls
    ? [entry("tls-ca.crt", secrets.tls.caCert), entry("tls-server.crt", secrets.tls.cert), entry("tls-server.key", secrets.tls.key)]
    : [];
  const { credentials, caCert } = secrets.prometheus;
  const prometheus = [
    ...(credentials ? [entry("prometheus-curl.conf", prometheusCurlConfig(credentials))] : []),
    ...(caCert !== undefined ? [entry("prometheus-ca.crt", caCert)] : []),
    // The sidecar's file goes with the install alone.
    ...(secrets.objstoreYaml !== undefined && (credentials || caCert !== undefined)
      ? [entry("prometheus-http.yml", prometheusHttpClientYaml(credentials, caCert !== undefined))]
      : []),
  ];
  const objstore = secrets.objstoreYaml === undefined ? [] : [entry("objstore.yml", secrets.objstoreYaml)];
  const redact = secrets.redact.filter((value) => value !== "").join("\n");
  return [PAYLOAD_MAGIC, ...objstore, ...tls, ...prometheus, entry("redact", redact), "end", ""].join("\n");
}
