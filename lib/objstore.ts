/**
 * The Thanos object-store configuration (thanos-io/objstore `client.BucketConfig` holding an S3 `Config`).
 * Thanos parses it with yaml.UnmarshalStrict, so an unknown key is fatal: only keys the S3 provider declares are
 * written, and optional ones only when set (older Thanos releases predate the top-level `prefix`).
 */
import { stringify } from "yaml";

export interface ObjstoreSettings {
  bucket: string;
  /** host:port, no scheme. */
  endpoint: string;
  /** true = plain HTTP to the endpoint. */
  insecure: boolean;
  accessKey: string;
  region?: string;
  /** Key prefix inside the bucket; needs a Thanos release whose objstore knows `prefix`. */
  prefix?: string;
}

interface S3Config {
  bucket: string;
  endpoint: string;
  region?: string;
  access_key: string;
  secret_key: string;
  insecure: boolean;
}

interface BucketConfig {
  type: "S3";
  config: S3Config;
  prefix?: string;
}

function objstoreConfig(settings: ObjstoreSettings, secretKey: string): BucketConfig {
  const config: S3Config = {
    bucket: settings.bucket,
    endpoint: settings.endpoint,
    ...(settings.region !== undefined && { region: settings.region }),
    access_key: settings.accessKey,
    secret_key: secretKey,
    insecure: settings.insecure,
  };
  return { type: "S3", config, ...(settings.prefix !== undefined && { prefix: settings.prefix }) };
}

/**
 * The objstore YAML holding the secret key: pass it only through secret channels (stdin, Kubernetes Secret).
 * Rendered as YAML 1.1, the dialect of Thanos' parser (go-yaml v2), so values such as `yes`, `on` or `1:20`
 * are quoted and stay strings instead of turning into booleans or numbers.
 */
export function renderObjstoreYaml(settings: ObjstoreSettings, secretKey: string): string {
  return stringify(objstoreConfig(settings, secretKey), { version: "1.1" });
}

/** The Secret the ObjectStore component makes for the stack's own bucket readers (store gateway, compactor). */
export const COMPONENTS_OBJSTORE_SECRET = { name: "thanos-objstore-config", key: "objstore.yml" } as const;
