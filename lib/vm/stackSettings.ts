import type { StackConfig } from "../config";

/** What the sidecars of all VMs share: the stack's Thanos release, gRPC TLS on or off, and the stack owning them. */
export interface VmStackSettings extends Pick<StackConfig, "thanosVersion" | "thanosDownload"> {
  /** gRPC server TLS on: the payload must then carry the CA, cert and key. */
  tls: boolean;
  /** The Pulumi project and stack; with a VM's name and SSH target they name the owner of its sidecar. */
  owner: { project: string; stack: string };
}
