import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PART_OF_LABEL } from "../lib/project";
import { COMPONENTS_OBJSTORE_SECRET, renderObjstoreYaml, type ObjstoreSettings } from "../lib/objstore";
import type { ObjstoreSecretRef } from "../lib/pod";

export interface ObjectStoreArgs {
  settings: ObjstoreSettings;
  secretKey: pulumi.Input<string>;
  /** Create the bucket (through the S3 API at settings.endpoint) instead of using an existing one. */
  createBucket: boolean;
  /** Also keep the objstore config in a Kubernetes Secret, for the in-cluster sidecar (prometheus-operator's
   * `spec.thanos.objectStorageConfig` reads one). */
  kubernetesSecret?: { name: string; namespace: pulumi.Input<string>; key: string };
  /** The namespace of the stack's own bucket readers (store gateway, compactor): they mount the objstore config from a
   * Secret made there (lib/objstore.ts COMPONENTS_OBJSTORE_SECRET). None when no such component is on. */
  componentsNamespace?: pulumi.Input<string>;
}

/** True for AWS's own S3 endpoints, where the provider's defaults already fit. */
function isAwsS3Endpoint(endpoint: string): boolean {
  return /^s3([.-][a-z0-9-]+)?\.amazonaws\.com(:443)?$/.test(endpoint);
}

/**
 * The bucket the sidecars ship blocks to. With createBucket it is made through an aws provider pointed at the
 * configured endpoint (MinIO: path-style, no AWS account checks); the same code makes a real S3 bucket when the
 * endpoint is AWS's. The bucket is retained on destroy: it holds the metrics history. The objstore config, secret key
 * included, reaches Kubernetes only in the Secrets made here: one for prometheus-operator's sidecar, one that the
 * store gateway and compactor mount.
 */
export class ObjectStore extends pulumi.ComponentResource {
  readonly bucket: pulumi.Output<string>;
  readonly kubernetesSecretName?: pulumi.Output<string>;
  /** The Secret the store gateway and compactor mount, when componentsNamespace is given. */
  readonly componentsSecret?: ObjstoreSecretRef;

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

    // The config holds the secret key: only ever in a Secret's stringData, registered as secret.
    const objstoreSecret = (resourceName: string, secret: { name: string; namespace: pulumi.Input<string>; key: string }) =>
      new k8s.core.v1.Secret(
        resourceName,
        {
          metadata: { name: secret.name, namespace: secret.namespace, labels: PART_OF_LABEL },
          type: "Opaque",
          stringData: {
            [secret.key]: pulumi.secret(pulumi.output(args.secretKey).apply((secretKey) => renderObjstoreYaml(settings, secretKey))),
          },
        },
        { parent: this, additionalSecretOutputs: ["data", "stringData"] },
      );
    if (args.kubernetesSecret) {
      this.kubernetesSecretName = objstoreSecret(`${name}-objstore`, args.kubernetesSecret).metadata.name;
    }
    if (args.componentsNamespace !== undefined) {
      const secret = objstoreSecret(`${name}-components`, { ...COMPONENTS_OBJSTORE_SECRET, namespace: args.componentsNamespace });
      this.componentsSecret = { name: secret.metadata.name, key: COMPONENTS_OBJSTORE_SECRET.key };
    }
    this.registerOutputs({ bucket: this.bucket, kubernetesSecretName: this.kubernetesSecretName, componentsSecretName: this.componentsSecret?.name });
  }
}
