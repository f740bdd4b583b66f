import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { renderObjstoreYaml, type ObjstoreSettings } from "../../lib/objstore";

const minio: ObjstoreSettings = { bucket: "thanos", endpoint: "10.0.0.5:9000", insecure: true, accessKey: "minio-access" };

/** Keys thanos-io/objstore accepts (client.BucketConfig and providers/s3 Config); it parses with UnmarshalStrict. */
const BUCKET_CONFIG_KEYS = new Set(["type", "config", "prefix"]);
const S3_CONFIG_KEYS = new Set([
  "bucket",
  "endpoint",
  "region",
  "disable_dualstack",
  "aws_sdk_auth",
  "access_key",
  "insecure",
  "signature_version2",
  "secret_key",
  "session_token",
  "put_user_metadata",
  "http_config",
  "trace",
  "list_objects_version",
  "bucket_lookup_type",
  "send_content_md5",
  "disable_multipart",
  "part_size",
  "sse_config",
  "sts_endpoint",
]);

describe("renderObjstoreYaml", () => {
  it("renders the S3 config with exactly the required keys", () => {
    const parsed = parse(renderObjstoreYaml(minio, "s3cr3t-key")) as unknown;
    assert.deepEqual(parsed, {
      type: "S3",
      config: {
        bucket: "thanos",
        endpoint: "10.0.0.5:9000",
        access_key: "minio-access",
        secret_key: "s3cr3t-key",
        insecure: true,
      },
    });
  });

  it("adds region inside config and prefix at the top level only when set", () => {
    const parsed = parse(renderObjstoreYaml({ ...minio, insecure: false, region: "eu-west-1", prefix: "vms/prod" }, "k")) as {
      config: Record<string, unknown>;
      prefix: string;
    };
    assert.equal(parsed.config.region, "eu-west-1");
    assert.equal(parsed.config.insecure, false);
    assert.equal(parsed.prefix, "vms/prod");
  });

  it("writes only keys Thanos knows", () => {
    const parsed = parse(renderObjstoreYaml({ ...minio, region: "r", prefix: "p" }, "k")) as Record<string, unknown>;
    for (const key of Object.keys(parsed)) assert.ok(BUCKET_CONFIG_KEYS.has(key), `unknown top-level key ${key}`);
    for (const key of Object.keys(parsed.config as object)) assert.ok(S3_CONFIG_KEYS.has(key), `unknown S3 key ${key}`);
  });

  it("keeps values that YAML 1.1 (Thanos' go-yaml v2) would read as booleans or numbers as strings", () => {
    for (const tricky of ["yes", "on", "no", "y", "1:20", "0777", "1_000", "true", "123", "~", "a: b", "#x", "'q\"", "multi\nline"]) {
      const text = renderObjstoreYaml({ ...minio, accessKey: tricky }, tricky);
      for (const version of ["1.1", "1.2"] as const) {
        const parsed = parse(text, { version }) as { config: { access_key: unknown; secret_key: unknown } };
        assert.equal(parsed.config.access_key, tricky, `access_key ${JSON.stringify(tricky)} under YAML ${version}`);
        assert.equal(parsed.config.secret_key, tricky, `secret_key ${JSON.stringify(tricky)} under YAML ${version}`);
      }
    }
  });
});
