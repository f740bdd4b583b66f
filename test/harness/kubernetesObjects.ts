/**
 * The Kubernetes objects one run of the program registers, as manifests: the inputs Pulumi's mocks receive, which the
 * kubernetes provider would send, with secrets unwrapped. The one source of the objects the validation tests apply to
 * a real API server (test/system/kube-manifests.test.ts) and the e2e tests compare with what the real provider made.
 */
import type { KubeObject } from "../sandbox/kubeApiserver";
import { recorded, reveal, runProgram } from "./mocks";

export async function kubernetesObjects(config: Record<string, unknown>, secretKeys: readonly string[], stack?: string): Promise<KubeObject[]> {
  await runProgram(config, secretKeys, stack === undefined ? {} : { stack });
  return recorded
    .filter((resource) => resource.type.startsWith("kubernetes:"))
    .map((resource) => {
      const object = reveal(resource.inputs) as KubeObject;
      // The kubernetes SDK sets apiVersion and kind in the inputs; they must agree with the resource type.
      const [, group, kind] = resource.type.split(":");
      if (object.kind !== kind || object.apiVersion !== group.replace(/^core\//, "")) {
        throw new Error(`${resource.type} ${resource.name} registered as ${object.apiVersion} ${object.kind}`);
      }
      return object;
    });
}
