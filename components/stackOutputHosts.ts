import * as pulumi from "@pulumi/pulumi";
import { checkStackOutputHost, type HostOrStackOutput } from "../lib/config";

/** Hosts given literally or as another stack's output (`{stack, output}`), with one StackReference per stack. */
export class StackOutputHosts {
  private readonly references = new Map<string, pulumi.StackReference>();

  /** The host; `key` is its config key path, named in the error when another stack's output is not a host. */
  resolve(value: HostOrStackOutput, key: string): pulumi.Output<string> {
    if (typeof value === "string") return pulumi.output(value);
    let reference = this.references.get(value.stack);
    if (!reference) {
      reference = new pulumi.StackReference(value.stack);
      this.references.set(value.stack, reference);
    }
    return reference.requireOutput(value.output).apply((resolved) => checkStackOutputHost(key, value, resolved));
  }
}
