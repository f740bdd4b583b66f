import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PART_OF_LABEL } from "../lib/project";
import { renderObjstoreYaml, type ObjstoreSettings } from "../lib/objstore";

export interface ObjectStoreArgs {
  settings: ObjstoreSettings;
  secretKey: pulumi.Input<string>;
  /** Create the bucket (through the S3 API at settings.endpoint) instead of using an existing one. */
  createBucket: boolean;
  /** Also keep the objstore config in a Kubernetes Secret, for the in-cluster sidecar (prometheus-operator's
   * `spec.thanos.objectStorageConfig` reads one). */
  kubernetesSecret?: { name: string; namespace: pulumi.Input<string>; key: string };
}

/** True for AWS's own S3 endpoints, where the provider's defaults already fit. */
function isAwsS3Endpoint(endpoint: string): boolean {
  return /^s3([.-][a-z0-9-]+)?\.amazonaws\.com(:443)?$/.test(endpoint);
}

/**
 * The bucket the sidecars ship blocks to. With createBucket it is made through an aws provider pointed at the
 * configured endpoint (MinIO: path-style, no AWS account checks); the same code makes a real S3 bucket when the
 * endpoint is AWS's. The bucket is retained on destroy: it holds the metrics history.
 */
export class ObjectStore extends pulumi.ComponentResource {
  readonly bucket: pulumi.Output<string>;
  readonly kubernetesSecretName?: pulumi.Output<string>;

  constructor(name: string, args: ObjectStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("thanos-global-view:storage:ObjectStore", name, {}, opts);
    const { settings } = args;

    if (args.createBucket) {
      const customEndpoint = !isAwsS3Endpoint(settings.endpoint);
      const provider = new aws.Provider(
        `${name}-s3`,
        {
          region: settings.region ?? "us-east-1",
          accessKey: settings.accessKey,
          secretKey: args.secretKey,
          ...(customEndpoint && {
            endpoints: [{ s3: `${settings.insecure ? "http" : "https"}://${settings.endpoint}` }],
            s3UsePathStyle: true,
            skipCredentialsValidation: true,
            skipRequestingAccountId: true,
            skipMetadataApiCheck: true,
            skipRegionValidation: true,
          }),
        },
        { parent: this },
      );
      const bucket = new aws.s3.Bucket(
        name,
        { bucket: settings.bucket, forceDestroy: false },
        { parent: this, provider, retainOnDelete: true },
      );
      this.bucket = bucket.bucket;
    } else {
      this.bucket = pulumi.output(settings.bucket);
    }

    if (args.kubernetesSecret) {
      const secret = new k8s.core.v1.Secret(
        `${name}-objstore`,
        {
          metadata: {
            name: args.kubernetesSecret.name,
            namespace: args.kubernetesSecret.namespace,
            labels: PART_OF_LABEL,
          },
          type: "Opaque",
          stringData: {
            [args.kubernetesSecret.key]: pulumi.secret(
              pulumi.output(args.secretKey).apply((secretKey) => renderObjstoreYaml(settings, secretKey)),
            ),
          },
        },
        { parent: this, additionalSecretOutputs: ["data", "stringData"] },
      );
      this.kubernetesSecretName = secret.metadata.name;
    }
    this.registerOutputs({ bucket: this.bucket, kubernetesSecretName: this.kubernetesSecretName });
  }
}
