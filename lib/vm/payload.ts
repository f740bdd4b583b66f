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

export const PAYLOAD_MAGIC = "thanos-global-view-payload v1";

interface VmSidecarSecrets {
  /** renderObjstoreYaml's output. */
  objstoreYaml: string;
  /** gRPC server TLS for the sidecar, all PEM. */
  tls?: { caCert: string; cert: string; key: string };
  /** Values the script must never show, even inside journal lines it prints (e.g. the S3 secret key). */
  redact: string[];
}

/** What the VmSidecar component sends: the objstore YAML, the TLS files, and the secret key to hide in output. */
export function sidecarSecrets(objstore: ObjstoreSettings, secretKey: string, tls?: VmSidecarSecrets["tls"]): VmSidecarSecrets {
  return { objstoreYaml: renderObjstoreYaml(objstore, secretKey), tls, redact: [secretKey] };
}

function entry(name: string, content: string): string {
  return `${name} ${Buffer.from(content, "utf8").toString("base64")}`;
}

export function vmSidecarPayload(secrets: VmSidecarSecrets): string {
  const tls = secrets.tls
    ? [entry("tls-ca.crt", secrets.tls.caCert), entry("tls-server.crt", secrets.tls.cert), entry("tls-server.key", secrets.tls.key)]
    : [];
  const redact = secrets.redact.filter((value) => value !== "").join("\n");
  return [PAYLOAD_MAGIC, entry("objstore.yml", secrets.objstoreYaml), ...tls, entry("redact", redact), "end", ""].join("\n");
}
