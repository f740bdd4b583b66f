/** The project's name: the config namespace (`thanos-global-view:<key>`) and the part-of label of every object. */
export const PROJECT = "thanos-global-view";

/** The label every Kubernetes object of the stack carries. */
export const PART_OF_LABEL = { "app.kubernetes.io/part-of": PROJECT } as const;

/** The labels of a Thanos workload's objects and pods: which program (name), which one of them (instance), its role. */
export function thanosLabels(name: string, instance: string, component: string): Record<string, string> {
  return { "app.kubernetes.io/name": name, "app.kubernetes.io/instance": instance, "app.kubernetes.io/component": component, ...PART_OF_LABEL };
}
