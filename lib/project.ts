/** The project's name: the config namespace (`thanos-global-view:<key>`) and the part-of label of every object. */
export const PROJECT = "thanos-global-view";

/** The label every Kubernetes object of the stack carries. */
export const PART_OF_LABEL = { "app.kubernetes.io/part-of": PROJECT } as const;
