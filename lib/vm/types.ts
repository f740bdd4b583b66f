/** Typed inputs of the VM-side renderers; plain values, already validated by the stack's config schema. */

export type ThanosArch = "amd64" | "arm64";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface ThanosDownload {
  /** Tarball URL with {version} and {arch} placeholders (a mirror for air-gapped sites). */
  urlTemplate: string;
  /** URL of the release's sha256sums.txt, same placeholders; used when no pinned checksum is set for an arch. */
  sha256sumsUrlTemplate: string;
  /** Pinned tarball checksums (lower-case hex) per arch; they win over the sums file. */
  sha256?: Partial<Record<ThanosArch, string>>;
}

export interface PrometheusSetup {
  externalLabels: Record<string, string>;
  /** Used for both storage.tsdb.min-block-duration and storage.tsdb.max-block-duration, e.g. "2h". */
  blockDuration: string;
}

export interface VmSidecarSettings {
  /** The VM's name in the stack config; names the VM in every message. */
  name: string;
  /** Prometheus as seen from the VM, e.g. http://localhost:9090. */
  prometheusUrl: string;
  /** Prometheus' --storage.tsdb.path on the VM (absolute). */
  tsdbPath: string;
  /** The sidecar's user; default: the owner of tsdbPath, detected on the VM (root only when named here). */
  runAs?: string;
  /** IP the sidecar listens on, "0.0.0.0" for all. */
  bindAddress: string;
  grpcPort: number;
  httpPort: number;
  logLevel: LogLevel;
  /** How long a (re)started sidecar may take to answer /-/ready before the change is rolled back. */
  readyTimeoutSeconds: number;
  /** Opt-in: set the block durations and external labels of a Debian/Ubuntu packaged Prometheus. */
  configurePrometheus?: PrometheusSetup;
}
