/**
 * How the scripts and the sidecar reach a Prometheus behind basic auth or a bearer token, and one served over https
 * with its own CA: a curl config for the scripts (preflight, label read, Prometheus setup) and Thanos'
 * `--prometheus.http-client-file` YAML for the sidecar, both from the same credentials. Both files hold the secret
 * and travel in the payload on stdin, never in a command string.
 */
import { stringify } from "yaml";
import { CONFIG_DIR } from "./paths";

/** Basic auth (the password secret) or a bearer token (secret), as the stack config holds them. */
export type PrometheusCredentials = { username: string; password: string } | { bearerToken: string };

/** Where the sidecar's HTTP client config and the Prometheus CA go on the VM, readable by the sidecar only. */
export const PROMETHEUS_HTTP_CLIENT_PATH = `${CONFIG_DIR}/prometheus-http.yml`;
const PROMETHEUS_CA_PATH = `${CONFIG_DIR}/prometheus-ca.crt`;

/** A curl config string ("..."): backslash and double quote escaped; the config refuses control characters. */
function curlString(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * The curl config (`curl --config`) with the credentials: `user = "name:password"` or an Authorization header.
 * The scripts add `cacert` themselves, as only they know where the CA file lands.
 */
export function prometheusCurlConfig(credentials: PrometheusCredentials): string {
  return "username" in credentials
    ? `user = ${curlString(`${credentials.username}:${credentials.password}`)}\n`
    : `header = ${curlString(`Authorization: Bearer ${credentials.bearerToken}`)}\n`;
}

/**
 * The sidecar's `--prometheus.http-client-file` (Thanos pkg/clientconfig HTTPClientConfig, the same in 0.34 and
 * 0.42: basic_auth {username, password}, bearer_token, tls_config {ca_file}). Thanos parses it leniently, so a wrong
 * key would be ignored: the system tests prove these against a Prometheus that refuses requests without them.
 * Rendered as YAML 1.1, the dialect of Thanos' parser.
 */
export function prometheusHttpClientYaml(credentials: PrometheusCredentials | undefined, withCa: boolean): string {
  return stringify(
    {
      ...(credentials && ("username" in credentials
        ? { basic_auth: { username: credentials.username, password: credentials.password } }
        : { bearer_token: credentials.bearerToken })),
      ...(withCa && { tls_config: { ca_file: PROMETHEUS_CA_PATH } }),
    },
    { version: "1.1" },
  );
}
