/**
 * The stack's configuration schema. Raw config is parsed here once into typed values; nothing else reads raw config.
 * Every problem is reported at once, each with its full key path and what is expected, before any resource exists.
 */
import { isIP } from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import {
  DEFAULT_THANOS_VERSION,
  OLDEST_SUPPORTED,
  isSupported,
  parseThanosVersion,
  type ThanosVersion,
} from "./thanosVersion";
import { joinHostPort } from "./address";
import { DAY_MS, DURATION, HOUR_MS, parseDuration, promDuration } from "./duration";
import { clientTlsMode, serviceEndpointAddress, type QuerierEndpoint } from "./endpoints";
import { fleetLabelProblems } from "./fleet";
import { COMPONENTS_OBJSTORE_SECRET } from "./objstore";
import { PROJECT } from "./project";
import { STORE_GATEWAY_GRPC_PORT, type TimePartition } from "./storeGateway";
import { CONTROL_CHARACTERS as CONTROL } from "./vm/shell";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$/;
const UNIX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SSH_PUBLIC_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/]+={0,3}( \S.*)?$/;
// An optional DNS-subdomain prefix (at most 253 characters) and "/", then a name of at most 63 characters.
const KUBERNETES_LABEL_KEY =
  /^(?:(?=[^/]{1,253}\/)[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const KUBERNETES_LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const KUBERNETES_QUANTITY = /^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/;
// An OCI image reference: [registry[:port]/]path[:tag][@sha256:digest], as the container runtime parses it.
const IMAGE_REFERENCE =
  /^(?:[A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?)*(?::\d{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/;
// A Kubernetes Secret's data key.
const SECRET_DATA_KEY = /^[-._a-zA-Z0-9]{1,253}$/;
/** Spaces, tabs, newlines and other control characters: never part of a key, URL or name. */
const WHITESPACE_OR_CONTROL = /[\s\u0000-\u001f\u007f]/;
// Sizes as Thanos' flags and cache config take them (alecthomas/units, go-humanize): a whole number and a unit.
const BYTE_SIZE = /^[1-9]\d*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const isHost = (value: string) => isIP(value) !== 0 || HOSTNAME.test(value);

/** A querier endpoint as Thanos takes it: host:port, or dns+host:port, dnssrv+ / dnssrvnoa+ and an SRV name. */
function isEndpointAddress(value: string): boolean {
  const discovery = /^(dns|dnssrv|dnssrvnoa)\+(.*)$/.exec(value);
  if (!discovery) return splitHostPort(value) !== undefined;
  const [, kind, target] = discovery;
  return kind === "dns" ? splitHostPort(target) !== undefined : HOSTNAME.test(target.replace(/^_[a-z0-9-]+\._(tcp|udp)\./, ""));
}

/** Splits "host:port" or "[v6]:port"; undefined when it is not one. */
function splitHostPort(value: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  if (!match) return undefined;
  const host = match[1] ?? match[2];
  const port = Number(match[3]);
  if ((match[1] !== undefined && isIP(host) !== 6) || !isHost(host) || port < 1 || port > 65535) return undefined;
  return { host, port };
}

const host = z.string().refine(isHost, { error: "must be a hostname or an IP address, without a port or scheme" });
const port = z.int({ error: "must be a port number" }).min(1, { error: "must be a port from 1 to 65535" }).max(65535, {
  error: "must be a port from 1 to 65535",
});
// The sidecar runs without root and without capabilities, so it cannot bind ports below 1024.
const unprivilegedPort = z.int({ error: "must be a port number" }).min(1024, { error: "must be a port from 1024 to 65535: the sidecar runs without root" }).max(65535, {
  error: "must be a port from 1024 to 65535",
});
const hostPort = z.string().refine((value) => splitHostPort(value) !== undefined, {
  error: "must be host:port with no scheme, e.g. minio.example.com:9000",
});
const dnsLabel = z.string().regex(DNS_LABEL, { error: "must be a DNS label: lower-case letters, digits and '-'" });
const unixUser = z.string().regex(UNIX_USER, { error: "must be a Unix user name" });
const logLevel = z.enum(["debug", "info", "warn", "error"], { error: "must be one of debug, info, warn, error" });
const duration = z.string().regex(DURATION, { error: "must be a Prometheus duration such as 30s, 5m or 2h" });
/** A duration as milliseconds. */
const milliseconds = duration.transform(parseDuration);
const byteSize = z.string().regex(BYTE_SIZE, { error: "must be a size such as 250MB or 2GB (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)" });
const labelName = z.string().regex(LABEL_NAME, { error: "must be a Prometheus label name, e.g. prometheus_replica" });
// Label values go into prometheus.yml as double-quoted YAML by a shell script: keep them to printable text.
const labels = z.record(
  labelName,
  z
    .string()
    .min(1, { error: "label values must not be empty" })
    .regex(/^[^"\\\x00-\x1f\x7f]*$/, { error: "label values must not contain quotes, backslashes or control characters" }),
);
// Kubernetes labels (a Service's selector) follow Kubernetes' rules, not Prometheus': prefixed keys, no spaces.
const kubernetesLabelMap = z.record(
    z.string().regex(KUBERNETES_LABEL_KEY, { error: "must be a Kubernetes label key such as app.kubernetes.io/name or app" }),
    z.string().regex(KUBERNETES_LABEL_VALUE, {
      error: "must be a Kubernetes label value: at most 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit",
    }),
);
const kubernetesLabels = kubernetesLabelMap.refine((selected) => Object.keys(selected).length > 0, { error: "must select at least one label" });
// Every Thanos workload's image, when not the upstream one of thanosVersion.
const image = z.string().regex(IMAGE_REFERENCE, { error: "must be a container image reference such as quay.io/thanos/thanos:v0.42.4" });
const quantity = z.string().regex(KUBERNETES_QUANTITY, { error: "must be a Kubernetes quantity such as 500m or 1Gi" });
const absolutePath = z
  .string()
  .refine((value) => value.startsWith("/") && !value.split("/").includes("..") && !CONTROL.test(value), {
    error: "must be an absolute path without '..' or control characters, e.g. /var/lib/prometheus/metrics2",
  });
/** An http(s) URL; the WHATWG parser would quietly drop tabs and newlines, so they are refused before it looks. */
function isHttpUrl(value: string): boolean {
  if (WHITESPACE_OR_CONTROL.test(value)) return false;
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}
/** Whether an http(s) URL holds a user or password, which would show in the commands and the state. */
const holdsUserinfo = (value: string) => {
  try {
    const url = new URL(value);
    return url.username !== "" || url.password !== "";
  } catch {
    return false;
  }
};
const httpUrl = z
  .string()
  .refine(isHttpUrl, { error: "must be an http:// or https:// URL without spaces or control characters (percent-encode them), e.g. http://localhost:9090" })
  .refine((value) => !holdsUserinfo(value), {
    error: "must not hold a user or password: it would show in the commands, the unit and the state; Prometheus' credentials go in the secret prometheusCredentials.<vm name>",
  });
/** A download URL template: an http(s) URL once {version} and {arch} are filled in (curl would also read file://). */
const urlTemplate = (example: string) =>
  z.string().refine((value) => isHttpUrl(value.replace(/\{version\}/g, "0.42.4").replace(/\{arch\}/g, "amd64")) && !holdsUserinfo(value), {
    error: `must be an http:// or https:// URL (with {version} and {arch} placeholders), without spaces, control characters, or a user or password, e.g. ${example}`,
  });
/** A value that goes into a YAML file or a script as one line: no control characters (a newline would split it). */
const oneLine = (what: string) =>
  z.string().min(1, { error: "must not be empty" }).refine((value) => !CONTROL.test(value), { error: `${what} must be one line without control characters` });
/** A credential or name: no whitespace or control characters anywhere. */
const token = (what: string) =>
  z.string().min(1, { error: "must not be empty" }).refine((value) => !WHITESPACE_OR_CONTROL.test(value), {
    error: `${what} must not contain spaces, newlines or other control characters`,
  });
const sshPublicKey = z
  .string()
  .regex(SSH_PUBLIC_KEY, { error: "must be an SSH public host key line such as 'ssh-ed25519 AAAA...'" });

const pemCertificate = z.string().includes("-----BEGIN CERTIFICATE-----", { error: "must be a PEM certificate" });
const pemPrivateKey = z.string().regex(/-----BEGIN [A-Z ]*PRIVATE KEY-----/, { error: "must be a PEM private key" });

/** A value read from another stack's outputs, for hosts whose addresses another stack owns. */
const stackOutput = z.strictObject({
  stack: z.string().regex(/^[\w.-]+(\/[\w.-]+){0,2}$/, { error: "must be a stack name such as org/project/stack" }),
  output: z.string().min(1, { error: "must name an output of that stack" }),
});
const hostOrStackOutput = z.union([host, stackOutput], {
  error: "must be a hostname or IP address, or {stack, output} naming another stack's output",
});

const sshProxy = z.strictObject({
  host,
  port: port.default(22),
  user: unixUser.default("root"),
  hostKey: sshPublicKey.optional(),
});

const vm = z.strictObject({
  name: dnsLabel,
  host: hostOrStackOutput,
  advertiseAddress: hostOrStackOutput.optional(),
  port: port.default(22),
  user: unixUser.default("root"),
  hostKey: sshPublicKey.optional(),
  proxy: sshProxy.optional(),
  prometheusUrl: httpUrl.default("http://localhost:9090"),
  tsdbPath: absolutePath,
  runAs: unixUser.optional(),
  bindAddress: z.string().refine((value) => isIP(value) !== 0, { error: "must be an IP address, e.g. 0.0.0.0" }).default("0.0.0.0"),
  grpcPort: unprivilegedPort.default(10901),
  httpPort: unprivilegedPort.default(10902),
  logLevel: logLevel.default("info"),
  readyTimeoutSeconds: z.int().min(5).max(3600).default(120),
  /** The CA of an https prometheusUrl, when the system's CAs do not trust its certificate. */
  prometheusCaCert: pemCertificate.optional(),
  /** VMs whose Prometheus servers are replicas of each other share one: they change one after another. */
  haGroup: dnsLabel.optional(),
  configurePrometheus: z
    .strictObject({
      externalLabels: labels.refine((value) => Object.keys(value).length > 0, {
        error: "must hold at least one label that identifies this Prometheus, e.g. {cluster: prom_vm}",
      }),
      blockDuration: duration.default("2h"),
    })
    .optional(),
});

/** An extra querier endpoint, e.g. a ruler or another stack's store gateway; plain strings are shorthand for {address}. */
const endpointAddress = z.string().refine(isEndpointAddress, {
  error: "must be host:port, dns+host:port or dnssrv+_grpc._tcp.<service name>, e.g. thanos-store.thanos.svc.cluster.local:10901",
});
const extraEndpoint = z.union(
  [
    // A plain string is {address}: its problems are reported at .address, as for the object form.
    z.string().transform((address) => ({ address, tls: false })).pipe(z.object({ address: endpointAddress, tls: z.boolean() })),
    z.strictObject({ address: endpointAddress, tls: z.boolean().default(false) }),
  ],
  { error: "must be an endpoint address or {address, tls}" },
);

const resources = z.strictObject({
  requests: z.strictObject({ cpu: quantity.optional(), memory: quantity.optional() }).default({}),
  limits: z.strictObject({ cpu: quantity.optional(), memory: quantity.optional() }).default({}),
});

const querier = z.strictObject({
  name: dnsLabel.default("thanos-querier"),
  replicas: z.int().min(1, { error: "must be at least 1" }).max(100).default(1),
  replicaLabels: z
    .array(labelName)
    .min(1, { error: "must list at least one replica label, e.g. [prometheus_replica]; without one replicas are not deduplicated" })
    .default(["prometheus_replica"]),
  logLevel: logLevel.default("info"),
  infoTimeout: duration.default("30s"),
  extraEndpoints: z.array(extraEndpoint).default([]),
  image: image.optional(),
  // How long `pulumi up` waits for the Deployment's rollout (every replica updated and Ready) before it fails; the
  // kubernetes provider would wait 10 minutes.
  readyTimeoutSeconds: z
    .int({ error: "must be a whole number of seconds" })
    .min(10, { error: "must be from 10 to 3600 seconds" })
    .max(3600, { error: "must be from 10 to 3600 seconds" })
    .default(300),
  resources: resources.default({
    requests: { cpu: "100m", memory: "256Mi" },
    limits: { memory: "1Gi" },
  }),
});

const sidecarService = z.strictObject({
  enabled: z.boolean().default(true),
  name: dnsLabel.default("sidecar"),
  namespace: dnsLabel.optional(),
  selector: kubernetesLabels.default({ "app.kubernetes.io/name": "prometheus" }),
  port: port.default(10901),
  targetPort: z.union([port, z.string().regex(/^[a-z0-9-]{1,15}$/)]).default("grpc"),
  discovery: z.enum(["dnssrv", "dns"], { error: "must be dnssrv (every replica through SRV records) or dns" }).default("dnssrv"),
  // The sidecar container's HTTP port (metrics), scraped when kubernetes.monitoring is on; prometheus-operator names it http.
  httpTargetPort: z.union([port, z.string().regex(/^[a-z0-9-]{1,15}$/)]).default("http"),
});

/** A pod's data directory: a PersistentVolumeClaim of `size`, or with emptyDir: true an emptyDir (lost with the pod). */
const storage = (size: string) =>
  z.strictObject({
    size: quantity.default(size),
    storageClassName: z.string().regex(DNS_SUBDOMAIN, { error: "must be a StorageClass name such as standard" }).optional(),
    emptyDir: z.boolean().default(false),
  });

/** A store gateway time bound: an RFC 3339 time, or a duration relative to now such as -2w (as --min-time takes it). */
interface TimeBound {
  /** The flag value: the time as given, or the duration in one unit. */
  flag: string;
  kind: "absolute" | "relative";
  /** Unix milliseconds (absolute) or milliseconds from now (relative), for ordering bounds of one kind. */
  ms: number;
}

const timeBound = z.string().transform((text, context): TimeBound => {
  if (RFC3339.test(text) && !Number.isNaN(Date.parse(text))) return { flag: text, kind: "absolute", ms: Date.parse(text) };
  const relative = /^(-?)(.+)$/.exec(text)!;
  if (DURATION.test(relative[2])) {
    const ms = (relative[1] ? -1 : 1) * parseDuration(relative[2]);
    return { flag: `${relative[1]}${promDuration(Math.abs(ms))}`, kind: "relative", ms };
  }
  context.addIssue({ code: "custom", message: "must be an RFC 3339 time such as 2026-01-01T00:00:00Z or a duration relative to now such as -2w" });
  return z.NEVER;
});

const timePartition = z
  .strictObject({ minTime: timeBound.optional(), maxTime: timeBound.optional() })
  .superRefine((partition, context) => {
    if (!partition.minTime && !partition.maxTime) {
      context.addIssue({ code: "custom", message: "must set minTime, maxTime or both" });
    } else if (partition.minTime && partition.maxTime && partition.minTime.kind === partition.maxTime.kind && partition.minTime.ms >= partition.maxTime.ms) {
      context.addIssue({ code: "custom", path: ["maxTime"], message: `must be later than minTime (${partition.minTime.flag})` });
    }
  })
  .transform(
    (partition): TimePartition => ({
      ...(partition.minTime && { minTime: partition.minTime.flag }),
      ...(partition.maxTime && { maxTime: partition.maxTime.flag }),
    }),
  );

const storeGateway = z.strictObject({
  enabled: z.boolean().default(false),
  name: dnsLabel.default("thanos-store"),
  replicas: z.int().min(1, { error: "must be at least 1" }).max(100).default(1),
  storage: storage("10Gi").default(storage("10Gi").parse({})),
  resources: resources.default({ requests: { cpu: "100m", memory: "512Mi" }, limits: { memory: "3Gi" } }),
  indexCacheSize: byteSize.default("250MB"),
  chunkPoolSize: byteSize.default("2GB"),
  timePartitions: z.array(timePartition).default([]),
  logLevel: logLevel.default("info"),
  image: image.optional(),
});

/** Raw blocks are downsampled to 5m once they span 40h, 5m blocks to 1h once they span 10 days (pkg/compact/downsample). */
const RAW_DOWNSAMPLED_AFTER = 40 * HOUR_MS;
const FIVE_MINUTES_DOWNSAMPLED_AFTER = 10 * DAY_MS;

const compactor = z
  .strictObject({
    enabled: z.boolean().default(false),
    name: dnsLabel.default("thanos-compact"),
    retention: z
      .strictObject({
        raw: milliseconds.default(parseDuration("30d")),
        fiveMinutes: milliseconds.default(parseDuration("30d")),
        oneHour: milliseconds.default(parseDuration("10y")),
      })
      .default({ raw: parseDuration("30d"), fiveMinutes: parseDuration("30d"), oneHour: parseDuration("10y") }),
    downsampling: z.boolean().default(true),
    storage: storage("20Gi").default(storage("20Gi").parse({})),
    resources: resources.default({ requests: { cpu: "100m", memory: "512Mi" }, limits: { memory: "2Gi" } }),
    deleteDelay: milliseconds.default(parseDuration("48h")),
    concurrency: z.int().min(1, { error: "must be at least 1" }).max(64).default(1),
    logLevel: logLevel.default("info"),
    image: image.optional(),
  })
  .superRefine((compact, context) => {
    if (!compact.downsampling) return;
    const { raw, fiveMinutes } = compact.retention;
    if (raw !== 0 && raw < RAW_DOWNSAMPLED_AFTER) {
      context.addIssue({
        code: "custom",
        path: ["retention", "raw"],
        message: `must be at least 40h, or 0d to keep raw data forever: raw blocks get their 5m copy once they span 40h, so ${promDuration(raw)} deletes raw data that was never downsampled (or set downsampling: false)`,
      });
    }
    if (fiveMinutes !== 0 && fiveMinutes < FIVE_MINUTES_DOWNSAMPLED_AFTER) {
      context.addIssue({
        code: "custom",
        path: ["retention", "fiveMinutes"],
        message: `must be at least 10d, or 0d to keep it forever: 5m blocks get their 1h copy once they span 10 days, so ${promDuration(fiveMinutes)} deletes 5m data that was never downsampled to 1h`,
      });
    }
  });

const queryFrontend = z.strictObject({
  enabled: z.boolean().default(false),
  name: dnsLabel.default("thanos-query-frontend"),
  replicas: z.int().min(1, { error: "must be at least 1" }).max(100).default(1),
  // The response cache stores split results: Thanos needs a split interval above zero with it.
  splitInterval: milliseconds.refine((ms) => ms > 0, { error: "must be longer than 0s: the response cache caches the split parts" }).default(parseDuration("24h")),
  cache: z
    .strictObject({ maxSize: byteSize.default("256MB"), validity: milliseconds.default(parseDuration("24h")) })
    .default({ maxSize: "256MB", validity: parseDuration("24h") }),
  resources: resources.default({ requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "1Gi" } }),
  logLevel: logLevel.default("info"),
  image: image.optional(),
});

const monitoring = z.strictObject({
  enabled: z.boolean().default(false),
  interval: duration.default("30s"),
  /** Labels prometheus-operator's serviceMonitorSelector and ruleSelector look for, e.g. {release: kube-prometheus-stack}. */
  labels: kubernetesLabelMap.default({}),
});

const kubernetes = z.strictObject({
  namespace: dnsLabel.default("thanos"),
  createNamespace: z.boolean().default(true),
  clusterDomain: z.string().refine(isHost, { error: "must be a DNS domain such as cluster.local" }).default("cluster.local"),
  renderYamlToDirectory: oneLine("the directory").optional(),
  querier: querier.default(querier.parse({})),
  sidecarService: sidecarService.default(sidecarService.parse({})),
  objstoreSecret: z
    .strictObject({ name: dnsLabel.default("thanos-objstore"), namespace: dnsLabel.optional(), key: z.string().regex(SECRET_DATA_KEY, { error: "must be a Secret data key: letters, digits, '-', '_' or '.'" }).default("objstore.yml") })
    .optional(),
  storeGateway: storeGateway.default(storeGateway.parse({})),
  compactor: compactor.default(compactor.parse({})),
  queryFrontend: queryFrontend.default(queryFrontend.parse({})),
  monitoring: monitoring.default(monitoring.parse({})),
});

const objstore = z.strictObject({
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: "must be an S3 bucket name" }),
  endpoint: hostPort,
  insecure: z.boolean().default(false),
  accessKey: token("an access key"),
  region: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { error: "must be a region name such as us-east-1" }).default("us-east-1"),
  prefix: z
    .string()
    .refine((value) => !WHITESPACE_OR_CONTROL.test(value), { error: "must not contain spaces or control characters", abort: true })
    .refine((value) => /^[^/](.*[^/])?$/.test(value), { error: "must not start or end with '/'" })
    .optional(),
  createBucket: z.boolean().default(false),
});

/**
 * Per VM name: basic auth or a bearer token for its Prometheus. Secret as a whole, as every secret key is; the
 * sidecar and the scripts get them on stdin.
 */
const prometheusCredentials = z.record(
  z.string(),
  z
    .strictObject({
      username: z
        .string()
        .min(1, { error: "must not be empty" })
        .refine((value) => !/[:\s\u0000-\u001f\u007f]/.test(value), { error: "must not contain ':', spaces or control characters (basic auth)" })
        .optional(),
      password: oneLine("the password").optional(),
      bearerToken: token("a bearer token").optional(),
    })
    .superRefine((value, ctx) => {
      const basic = value.username !== undefined || value.password !== undefined;
      if (basic && value.bearerToken !== undefined) {
        ctx.addIssue({ code: "custom", message: "takes basic auth ({username, password}) or {bearerToken}, not both" });
      } else if (basic && (value.username === undefined || value.password === undefined)) {
        ctx.addIssue({ code: "custom", path: [value.username === undefined ? "username" : "password"], message: "is required with basic auth" });
      } else if (!basic && value.bearerToken === undefined) {
        ctx.addIssue({ code: "custom", message: "must be {username, password} or {bearerToken}" });
      }
    })
    .transform((value) =>
      value.bearerToken !== undefined ? { bearerToken: value.bearerToken } : { username: value.username!, password: value.password! },
    ),
);

const DEFAULT_THANOS_URL_TEMPLATE =
  "https://github.com/thanos-io/thanos/releases/download/v{version}/thanos-{version}.linux-{arch}.tar.gz";
const DEFAULT_THANOS_SHA256SUMS_URL_TEMPLATE = "https://github.com/thanos-io/thanos/releases/download/v{version}/sha256sums.txt";
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, { error: "must be a sha256 in lower-case hex" });
const thanosDownload = z.strictObject({
  urlTemplate: z
    .string()
    .includes("{version}", { error: "must contain {version} (and usually {arch})" })
    .pipe(urlTemplate("https://mirror.internal/thanos/v{version}/thanos-{version}.linux-{arch}.tar.gz"))
    .default(DEFAULT_THANOS_URL_TEMPLATE),
  sha256sumsUrlTemplate: urlTemplate("https://mirror.internal/thanos/v{version}/sha256sums.txt").default(DEFAULT_THANOS_SHA256SUMS_URL_TEMPLATE),
  sha256: z.strictObject({ amd64: sha256.optional(), arm64: sha256.optional() }).optional(),
});

const tls = z.strictObject({
  caCert: pemCertificate,
  sidecarCert: pemCertificate,
  sidecarKey: pemPrivateKey,
  querierCert: pemCertificate,
  querierKey: pemPrivateKey,
  serverName: z.string().refine(isHost, { error: "must be the DNS name in the sidecar certificates" }).optional(),
  inClusterSidecar: z.boolean().default(false),
});

const thanosVersion = z.string().transform((text, ctx): ThanosVersion => {
  const version = parseThanosVersion(text);
  if (!version || !isSupported(version)) {
    ctx.addIssue({
      code: "custom",
      message: `must be a Thanos release from ${OLDEST_SUPPORTED} on (0.x.y), e.g. ${DEFAULT_THANOS_VERSION}; got "${text}"`,
    });
    return z.NEVER;
  }
  return version;
});

const schema = z.strictObject({
  thanosVersion: thanosVersion.default(parseThanosVersion(DEFAULT_THANOS_VERSION)!),
  thanosDownload: thanosDownload.default(thanosDownload.parse({})),
  kubernetes: kubernetes.default(kubernetes.parse({})),
  vms: z.array(vm).default([]),
  sshPrivateKey: z
    .string()
    .regex(/-----BEGIN [A-Z ]*PRIVATE KEY-----/, { error: "must be a PEM or OpenSSH private key" })
    .optional(),
  objstore,
  // One line: the scripts hide every output line that holds it, line by line.
  objstoreSecretKey: oneLine("the secret key"),
  tls: tls.optional(),
  prometheusCredentials: prometheusCredentials.optional(),
});

export type StackConfig = z.output<typeof schema>;
/** One VM's entry: from here to the scripts rendered for it, the one type that describes a VM. */
export type VmConfig = StackConfig["vms"][number];
export type HostOrStackOutput = VmConfig["host"];
export type ThanosDownload = StackConfig["thanosDownload"];

/**
 * A host read from another stack's output, held to the rule a literal host follows (no port, no scheme). Outputs are
 * known only during the deployment, so this runs then rather than in parseStackConfig.
 */
export function checkStackOutputHost(key: string, source: { stack: string; output: string }, resolved: unknown): string {
  if (typeof resolved !== "string" || !isHost(resolved)) {
    throw new ConfigError([
      // The value is not shown: another stack's output may be a secret.
      `${PROJECT}:${key}: output "${source.output}" of stack ${source.stack} must be a hostname or an IP address, without a port or scheme; got ${typeof resolved === "string" ? `a string of ${resolved.length} characters` : typeof resolved}`,
    ]);
  }
  return resolved;
}

/** Keys whose values must be stored encrypted (`pulumi config set --secret`). */
const SECRET_KEYS = ["sshPrivateKey", "objstoreSecretKey", "tls", "prometheusCredentials"] as const;
/** Keys whose values are plain strings; every other key holds YAML/JSON structure. */
const STRING_KEYS = new Set(["thanosVersion", "sshPrivateKey", "objstoreSecretKey"]);

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

function keyPath(path: PropertyKey[]): string {
  return path.reduce<string>(
    (text, part) => (typeof part === "number" ? `${text}[${part}]` : `${text}${text ? "." : ""}${String(part)}`),
    "",
  );
}

/** Keys that look like settings but must not be set, and why. */
const REFUSED_KEYS: Record<string, string> = {
  "kubernetes.compactor.replicas":
    "there is no replica count to set: exactly one compactor may work on a bucket (two corrupt it), so the stack always runs one; remove this key",
};

function describeIssue(issue: z.core.$ZodIssue): string {
  const at = `${PROJECT}:${keyPath(issue.path)}`;
  if (issue.code === "unrecognized_keys") {
    return issue.keys
      .map((key) => `${at}${issue.path.length ? "." : ""}${key}: ${REFUSED_KEYS[keyPath([...issue.path, key])] ?? "unknown key (a typo?); remove it"}`)
      .join("\n  - ");
  }
  if (issue.code === "invalid_type" && issue.message.endsWith("received undefined")) {
    return `${at}: is required (expected ${issue.expected})`;
  }
  if (issue.code === "invalid_key") {
    // zod reports a bad record key as "Invalid key in record"; the key schema's own message says what is expected.
    return `${at}: the key ${JSON.stringify(String(issue.path.at(-1)))} ${issue.issues.map((inner) => inner.message).join("; ")}`;
  }
  return `${at}: ${issue.message}`;
}

/** Cross-field rules the per-field schema cannot express. */
function checkConsistency(config: StackConfig, problems: string[]): void {
  const at = (path: string) => `${PROJECT}:${path}`;
  const seenNames = new Map<string, number>();
  const seenAdvertised = new Map<string, number>();
  config.vms.forEach((vm, index) => {
    const previous = seenNames.get(vm.name);
    if (previous !== undefined) {
      problems.push(`${at(`vms[${index}].name`)}: "${vm.name}" is also the name of vms[${previous}]; VM names must be unique`);
    }
    seenNames.set(vm.name, index);
    const advertised = advertisedGrpcAddress(vm);
    const clash = seenAdvertised.get(advertised);
    if (clash !== undefined) {
      problems.push(
        `${at(`vms[${index}].advertiseAddress`)}: ${advertised} is also the gRPC address of vms[${clash}]; the querier needs one address per sidecar`,
      );
    }
    seenAdvertised.set(advertised, index);
    if (vm.grpcPort === vm.httpPort) {
      problems.push(`${at(`vms[${index}].httpPort`)}: must differ from grpcPort (${vm.grpcPort})`);
    }
  });
  if (config.vms.length > 0 && config.sshPrivateKey === undefined) {
    problems.push(`${at("sshPrivateKey")}: is required when vms are configured; run: pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`);
  }
  for (const name of Object.keys(config.prometheusCredentials ?? {})) {
    if (!seenNames.has(name)) {
      problems.push(`${at(`prometheusCredentials.${name}`)}: no VM is named ${JSON.stringify(name)}; the keys are vms[].name`);
    }
  }
  // At preview the labels are known where configurePrometheus sets them; the others are read from each VM on `up`.
  const configured = config.vms.flatMap((vm, index) =>
    vm.configurePrometheus ? [{ index, name: vm.name, haGroup: vm.haGroup, labels: vm.configurePrometheus.externalLabels }] : [],
  );
  problems.push(
    ...fleetLabelProblems(configured, config.kubernetes.querier.replicaLabels, (member) => at(`vms[${member.index}].configurePrometheus.externalLabels`), "configurePrometheus sets"),
  );
  if (config.tls && config.vms.length === 0 && !config.tls.inClusterSidecar) {
    problems.push(`${at("tls")}: no endpoint would use it; configure vms or set tls.inClusterSidecar: true`);
  }
  checkObjstoreSecretName(config, problems);
  checkExtraEndpoints(config, problems);
  checkTlsMix(config, problems);
}

/** The objstore Secret for prometheus-operator must not be the one the stack's own bucket readers mount. */
function checkObjstoreSecretName(config: StackConfig, problems: string[]): void {
  const { objstoreSecret, namespace } = config.kubernetes;
  if (objstoreSecret && objstoreSecret.name === COMPONENTS_OBJSTORE_SECRET.name && (objstoreSecret.namespace ?? namespace) === namespace) {
    problems.push(
      `${PROJECT}:kubernetes.objstoreSecret.name: ${objstoreSecret.name} is the Secret the store gateway and compactor mount in ${namespace}; choose another name`,
    );
  }
}

/** An extra endpoint the querier dials anyway (e.g. the store gateway, listed by hand as before it was a component). */
function checkExtraEndpoints(config: StackConfig, problems: string[]): void {
  const extra = config.kubernetes.querier.extraEndpoints;
  const components = new Set(componentEndpoints(config).map((endpoint) => endpoint.address));
  extra.forEach((endpoint, index) => {
    if (components.has(endpoint.address)) {
      problems.push(
        `${PROJECT}:kubernetes.querier.extraEndpoints[${index}]: ${endpoint.address} is already dialled (a component of this stack reports it); remove it`,
      );
    }
  });
}

/** The gRPC address the querier dials for a VM, as config states it (a stack output shown as stack#output). */
function advertisedGrpcAddress(vm: VmConfig): string {
  const host = vm.advertiseAddress ?? vm.host;
  return joinHostPort(typeof host === "string" ? host : `${host.stack}#${host.output}`, vm.grpcPort);
}

/**
 * The endpoints the querier will dial for the stack's components and which of them use TLS, as config states them
 * (the components later report the resolved addresses): enough to tell at preview whether the configured version can
 * apply TLS that way.
 */
function componentEndpoints(config: StackConfig): QuerierEndpoint[] {
  const { sidecarService, storeGateway, namespace, clusterDomain } = config.kubernetes;
  return [
    ...(sidecarService.enabled
      ? [
          {
            address: serviceEndpointAddress({ ...sidecarService, namespace: sidecarService.namespace ?? namespace, clusterDomain }),
            tls: config.tls?.inClusterSidecar ?? false,
          },
        ]
      : []),
    ...config.vms.map((vm) => ({ address: advertisedGrpcAddress(vm), tls: config.tls !== undefined })),
    // The store gateway serves plain gRPC.
    ...(storeGateway.enabled
      ? [{ address: serviceEndpointAddress({ name: storeGateway.name, namespace, clusterDomain, port: STORE_GATEWAY_GRPC_PORT, discovery: "dnssrv" }), tls: false }]
      : []),
  ];
}

const plannedEndpoints = (config: StackConfig) => [...componentEndpoints(config), ...config.kubernetes.querier.extraEndpoints];

/** Checks that the configured Thanos version can apply TLS the way the endpoints need it. */
function checkTlsMix(config: StackConfig, problems: string[]): void {
  if (!config.tls) {
    const wantsTls = config.kubernetes.querier.extraEndpoints.findIndex((endpoint) => endpoint.tls);
    if (wantsTls >= 0) {
      problems.push(`${PROJECT}:kubernetes.querier.extraEndpoints[${wantsTls}].tls: needs the tls key (CA and querier client certificate)`);
    }
    return;
  }
  try {
    clientTlsMode(config.thanosVersion, plannedEndpoints(config));
  } catch (error) {
    problems.push(
      `${PROJECT}:tls: ${(error as Error).message}; to use TLS everywhere set tls.inClusterSidecar: true and extraEndpoints[].tls: true`,
    );
  }
}

function decode(key: string, value: string, secret: boolean, problems: string[]): unknown {
  // An unknown key (a typo) is left as it is: the schema reports it as unknown, which is the useful message.
  if (STRING_KEYS.has(key) || !(key in schema.shape)) return value;
  try {
    return JSON.parse(value);
  } catch {
    // A secret's value is never echoed, not even its start.
    const got = secret ? "" : `; got ${JSON.stringify(value.slice(0, 40))}`;
    problems.push(`${PROJECT}:${key}: must be structured YAML/JSON (set it in Pulumi.<stack>.yaml or with --path)${got}`);
    return undefined;
  }
}

/**
 * Parses the stack's raw configuration, as `pulumi.runtime.allConfig()` returns it ("project:key" → string), into
 * typed values. Throws one ConfigError that lists every problem. Secret values come back as plain strings in the
 * result: callers wrap them with `pulumi.secret` before use.
 */
export function parseStackConfig(raw: Record<string, string>, secretKeys: ReadonlySet<string>): StackConfig {
  const problems: string[] = [];
  const input: Record<string, unknown> = {};
  for (const [fullKey, value] of Object.entries(raw)) {
    const separator = fullKey.indexOf(":");
    if (fullKey.slice(0, separator) !== PROJECT) continue; // provider settings such as kubernetes:context are not ours
    const key = fullKey.slice(separator + 1);
    input[key] = decode(key, value, secretKeys.has(fullKey), problems);
  }
  for (const key of SECRET_KEYS) {
    if (input[key] !== undefined && !secretKeys.has(`${PROJECT}:${key}`)) {
      problems.push(`${PROJECT}:${key}: is stored in plain text; store it encrypted with: pulumi config set --secret ${key} ...`);
    }
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    problems.push(...parsed.error.issues.map(describeIssue));
  } else {
    checkConsistency(parsed.data, problems);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return parsed.data!;
}

// The SDK exports isConfigSecret at runtime but leaves it out of its typings (@internal); it is how the SDK itself
// tells an encrypted config value from a plain one.
const { isConfigSecret } = pulumi.runtime as unknown as { isConfigSecret: (key: string) => boolean };

/** The running stack's configuration, parsed; throws a ConfigError listing every problem. */
export function readStackConfig(): StackConfig {
  const raw = pulumi.runtime.allConfig();
  const secretKeys = new Set(Object.keys(raw).filter((key) => isConfigSecret(key)));
  return parseStackConfig(raw, secretKeys);
}
