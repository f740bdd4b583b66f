import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { describe, it } from "node:test";
import { checkStackOutputHost, ConfigError, parseStackConfig } from "../../lib/config";
import { asRawConfig, referenceConfig, REFERENCE_SECRET_KEYS, secretKeySet, tlsConfig } from "../harness/configs";

function parse(config: Record<string, unknown>, secretKeys: readonly string[] = [...REFERENCE_SECRET_KEYS]) {
  return parseStackConfig(asRawConfig(config), secretKeySet(secretKeys));
}

function problemsOf(config: Record<string, unknown>, secretKeys?: readonly string[]): string[] {
  try {
    parse(config, secretKeys);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.problems;
  }
  assert.fail("the config was accepted");
}

/** The reference config with one change applied. */
function changed(mutate: (config: Record<string, any>) => void): Record<string, unknown> {
  const config = referenceConfig() as Record<string, any>;
  mutate(config);
  return config;
}

describe("parseStackConfig", () => {
  it("fills defaults for the reference setup", () => {
    const config = parse(referenceConfig());
    assert.equal(config.thanosVersion.text, "0.42.4");
    assert.equal(config.kubernetes.namespace, "thanos");
    assert.equal(config.kubernetes.createNamespace, true);
    assert.deepEqual(config.kubernetes.querier.replicaLabels, ["prometheus_replica"]);
    assert.equal(config.kubernetes.querier.replicas, 1);
    assert.equal(config.kubernetes.querier.readyTimeoutSeconds, 300);
    assert.equal(config.kubernetes.sidecarService.name, "sidecar");
    assert.deepEqual(config.kubernetes.sidecarService.selector, { "app.kubernetes.io/name": "prometheus" });
    assert.equal(config.kubernetes.sidecarService.discovery, "dnssrv");
    const [vm] = config.vms;
    assert.deepEqual(
      { port: vm.port, user: vm.user, grpcPort: vm.grpcPort, httpPort: vm.httpPort, bindAddress: vm.bindAddress, logLevel: vm.logLevel },
      { port: 22, user: "root", grpcPort: 10901, httpPort: 10902, bindAddress: "0.0.0.0", logLevel: "info" },
    );
    assert.equal(config.objstore.region, "us-east-1");
    assert.equal(config.objstore.createBucket, false);
    assert.match(config.thanosDownload.urlTemplate, /github\.com\/thanos-io\/thanos\/releases\/download\/v\{version\}/);
  });

  it("accepts the committed Pulumi.dev.yaml example, with every cold storage component on", () => {
    const file = parseYaml(fs.readFileSync(path.join(__dirname, "..", "..", "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
    const values = Object.fromEntries(Object.entries(file.config).map(([key, value]) => [key.slice(key.indexOf(":") + 1), value]));
    const config = parse({ ...values, sshPrivateKey: referenceConfig().sshPrivateKey, objstoreSecretKey: "secret" });
    const { storeGateway, compactor, queryFrontend, monitoring } = config.kubernetes;
    assert.deepEqual([storeGateway.enabled, compactor.enabled, queryFrontend.enabled, monitoring.enabled], [true, true, true, true]);
  });

  it("accepts the Thanos version of the reference setup, with or without a leading v", () => {
    assert.equal(parse(changed((c) => (c.thanosVersion = "v0.34.1"))).thanosVersion.text, "0.34.1");
  });

  it("takes a sidecar Service selector with prefixed Kubernetes label keys, as prometheus-operator sets them", () => {
    const config = referenceConfig() as Record<string, any>;
    const selector = { "app.kubernetes.io/name": "prometheus", "operator.prometheus.io/name": "k8s", prometheus: "k8s" };
    config.kubernetes.sidecarService = { selector };
    assert.deepEqual(parse(config).kubernetes.sidecarService.selector, selector);
  });

  it("holds a host read from another stack's output to the literal host rule, naming the key", () => {
    const source = { stack: "acme/network/prod", output: "promVmIp" };
    assert.equal(checkStackOutputHost("vms[0].host", source, "10.9.0.5"), "10.9.0.5");
    assert.equal(checkStackOutputHost("vms[0].host", source, "vm1.example.com"), "vm1.example.com");
    for (const bad of ["10.9.0.5:22", "ssh://vm1", "", 42, undefined]) {
      assert.throws(
        () => checkStackOutputHost("vms[0].host", source, bad),
        /thanos-global-view:vms\[0\]\.host: output "promVmIp" of stack acme\/network\/prod must be a hostname or an IP address, without a port or scheme/,
        String(bad),
      );
    }
  });

  it("never echoes a secret in its errors: a secret structured key given as a plain string, another stack's bad host", () => {
    const token = "tok=9f2c/never:in+an-error";
    const problems = problemsOf(changed((c) => (c.prometheusCredentials = token)), [...REFERENCE_SECRET_KEYS, "prometheusCredentials"]);
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.match(problems[0], /^thanos-global-view:prometheusCredentials: must be structured YAML\/JSON/);
    assert.ok(!problems[0].includes(token.slice(0, 8)), problems[0]);
    const source = { stack: "acme/network/prod", output: "promVmIp" };
    assert.throws(() => checkStackOutputHost("vms[0].host", source, token), (error: Error) => !error.message.includes(token) && error.message.endsWith(`got a string of ${token.length} characters`));
  });

  it("ignores other namespaces' settings such as kubernetes:context", () => {
    const raw = { ...asRawConfig(referenceConfig()), "kubernetes:context": "prod" };
    assert.doesNotThrow(() => parseStackConfig(raw, secretKeySet(REFERENCE_SECRET_KEYS)));
  });

  it("reads a VM host from another stack's output", () => {
    const config = parse(changed((c) => (c.vms[0].host = { stack: "acme/network/prod", output: "promVmIp" })));
    assert.deepEqual(config.vms[0].host, { stack: "acme/network/prod", output: "promVmIp" });
  });

  it("reports every field problem at once (cross-field checks run once the fields parse)", () => {
    const problems = problemsOf(
      changed((c) => {
        c.vms[0].tsdbPath = "data";
        c.objstore.endpoint = "http://minio:9000";
      }),
    );
    assert.equal(problems.length, 2, problems.join("\n"));
    assert.match(problems[0], /^thanos-global-view:vms\[0\]\.tsdbPath: must be an absolute path/);
    assert.match(problems[1], /^thanos-global-view:objstore\.endpoint: must be host:port/);
  });

  it("accepts mixed TLS from 0.42 for static endpoints", () => {
    assert.doesNotThrow(() => parse(changed((c) => (c.tls = tlsConfig())), [...REFERENCE_SECRET_KEYS, "tls"]));
  });

  const badConfigs: [string, (config: Record<string, any>) => void, RegExp, string[]?][] = [
    ["missing objstore", (c) => delete c.objstore, /^thanos-global-view:objstore: is required/],
    ["missing objstoreSecretKey", (c) => delete c.objstoreSecretKey, /^thanos-global-view:objstoreSecretKey: is required/],
    ["missing sshPrivateKey with VMs", (c) => delete c.sshPrivateKey, /^thanos-global-view:sshPrivateKey: is required when vms/],
    ["missing tsdbPath", (c) => delete c.vms[0].tsdbPath, /^thanos-global-view:vms\[0\]\.tsdbPath: is required/],
    ["relative tsdbPath", (c) => (c.vms[0].tsdbPath = "metrics2"), /^thanos-global-view:vms\[0\]\.tsdbPath: must be an absolute path/],
    ["unknown top-level key", (c) => (c.thanosVersoin = "0.42.4"), /^thanos-global-view:thanosVersoin: unknown key/],
    ["unknown VM key", (c) => (c.vms[0].tsdbpath = "/x"), /^thanos-global-view:vms\[0\]\.tsdbpath: unknown key/],
    ["unknown querier key", (c) => (c.kubernetes.querier.replica = 2), /^thanos-global-view:kubernetes\.querier\.replica: unknown key/],
    ["objstore endpoint with a scheme", (c) => (c.objstore.endpoint = "http://minio:9000"), /^thanos-global-view:objstore\.endpoint: must be host:port/],
    ["objstore endpoint without a port", (c) => (c.objstore.endpoint = "minio"), /^thanos-global-view:objstore\.endpoint: must be host:port/],
    ["bad prometheusUrl", (c) => (c.vms[0].prometheusUrl = "localhost:9090"), /^thanos-global-view:vms\[0\]\.prometheusUrl: must be an http/],
    ["host with a port", (c) => (c.vms[0].host = "10.0.0.158:22"), /^thanos-global-view:vms\[0\]\.host: must be a hostname or an IP address, without a port/],
    ["grpcPort out of range", (c) => (c.vms[0].grpcPort = 70000), /^thanos-global-view:vms\[0\]\.grpcPort: must be a port from 1024 to 65535/],
    ["privileged httpPort", (c) => (c.vms[0].httpPort = 80), /^thanos-global-view:vms\[0\]\.httpPort: must be a port from 1024 to 65535: the sidecar runs without root/],
    ["ssh port zero", (c) => (c.vms[0].port = 0), /^thanos-global-view:vms\[0\]\.port: must be a port/],
    ["grpcPort equal to httpPort", (c) => (c.vms[0].httpPort = 10901), /^thanos-global-view:vms\[0\]\.httpPort: must differ from grpcPort/],
    ["duplicate VM names", (c) => c.vms.push({ ...c.vms[0], host: "10.0.0.159" }), /^thanos-global-view:vms\[1\]\.name: "prom-vm" is also the name of vms\[0\]/],
    [
      "duplicate advertise addresses",
      (c) => c.vms.push({ ...c.vms[0], name: "prom-vm-2", host: "10.0.0.159", advertiseAddress: "10.0.0.158" }),
      /^thanos-global-view:vms\[1\]\.advertiseAddress: 10\.0\.0\.158:10901 is also the gRPC address of vms\[0\]/,
    ],
    ["VM name not a DNS label", (c) => (c.vms[0].name = "Prom_VM"), /^thanos-global-view:vms\[0\]\.name: must be a DNS label/],
    ["unsupported old version", (c) => (c.thanosVersion = "0.23.0"), /^thanos-global-view:thanosVersion: must be a Thanos release from 0\.24\.0 on/],
    ["malformed version", (c) => (c.thanosVersion = "latest"), /^thanos-global-view:thanosVersion: must be a Thanos release/],
    ["empty replicaLabels", (c) => (c.kubernetes.querier.replicaLabels = []), /^thanos-global-view:kubernetes\.querier\.replicaLabels: must list at least one replica label/],
    ["bad replica label", (c) => (c.kubernetes.querier.replicaLabels = ["prometheus-replica"]), /^thanos-global-view:kubernetes\.querier\.replicaLabels\[0\]: must be a Prometheus label name/],
    ["zero querier replicas", (c) => (c.kubernetes.querier.replicas = 0), /^thanos-global-view:kubernetes\.querier\.replicas: must be at least 1/],
    ["bad infoTimeout", (c) => (c.kubernetes.querier.infoTimeout = "30 seconds"), /^thanos-global-view:kubernetes\.querier\.infoTimeout: must be a Prometheus duration/],
    ["querier readyTimeoutSeconds too short", (c) => (c.kubernetes.querier.readyTimeoutSeconds = 5), /^thanos-global-view:kubernetes\.querier\.readyTimeoutSeconds: must be from 10 to 3600 seconds$/],
    ["bad log level", (c) => (c.vms[0].logLevel = "verbose"), /^thanos-global-view:vms\[0\]\.logLevel: must be one of debug, info, warn, error/],
    ["bad host key", (c) => (c.vms[0].hostKey = "AAAAC3Nza"), /^thanos-global-view:vms\[0\]\.hostKey: must be an SSH public host key line/],
    ["bad stack reference", (c) => (c.vms[0].host = { stack: "a/b/c" }), /^thanos-global-view:vms\[0\]\.host: must be a hostname or IP address, or \{stack, output\}/],
    ["bad namespace", (c) => (c.kubernetes.namespace = "Thanos"), /^thanos-global-view:kubernetes\.namespace: must be a DNS label/],
    ["selector key with a space", (c) => (c.kubernetes.sidecarService = { selector: { "app name": "prometheus" } }), /^thanos-global-view:kubernetes\.sidecarService\.selector\.app name: the key "app name" must be a Kubernetes label key/],
    ["selector value with a space", (c) => (c.kubernetes.sidecarService = { selector: { app: "my prometheus" } }), /^thanos-global-view:kubernetes\.sidecarService\.selector\.app: must be a Kubernetes label value/],
    ["empty selector", (c) => (c.kubernetes.sidecarService = { selector: {} }), /^thanos-global-view:kubernetes\.sidecarService\.selector: must select at least one label/],
    ["external label name with a dot", (c) => (c.vms[0].configurePrometheus = { externalLabels: { "k8s.cluster": "a" } }), /^thanos-global-view:vms\[0\]\.configurePrometheus\.externalLabels\.k8s\.cluster: the key "k8s\.cluster" must be a Prometheus label name/],
    ["bad bucket", (c) => (c.objstore.bucket = "Thanos_Blocks"), /^thanos-global-view:objstore\.bucket: must be an S3 bucket name/],
    ["bad pinned checksum", (c) => (c.thanosDownload = { sha256: { amd64: "abc" } }), /^thanos-global-view:thanosDownload\.sha256\.amd64: must be a sha256/],
    ["configurePrometheus without labels", (c) => (c.vms[0].configurePrometheus = { externalLabels: {} }), /^thanos-global-view:vms\[0\]\.configurePrometheus\.externalLabels: must hold at least one label/],
    ["extra endpoint asking for TLS without tls", (c) => (c.kubernetes.querier.extraEndpoints = [{ address: "store:10901", tls: true }]), /^thanos-global-view:kubernetes\.querier\.extraEndpoints\[0\]\.tls: needs the tls key/],
    ["structured key given as a plain string", (c) => (c.vms = "prom-vm"), /^thanos-global-view:vms: must be structured YAML\/JSON/],
    ["ssh key stored in plain text", () => undefined, /^thanos-global-view:sshPrivateKey: is stored in plain text; store it encrypted with: pulumi config set --secret sshPrivateKey/, ["objstoreSecretKey"]],
    ["objstore secret key stored in plain text", () => undefined, /^thanos-global-view:objstoreSecretKey: is stored in plain text/, ["sshPrivateKey"]],
    ["tls stored in plain text", (c) => (c.tls = tlsConfig()), /^thanos-global-view:tls: is stored in plain text/],
    ["tls key that is not a key", (c) => (c.tls = tlsConfig({ querierKey: "hunter2" })), /^thanos-global-view:tls\.querierKey: must be a PEM private key/, [...REFERENCE_SECRET_KEYS, "tls"]],
    // Accepted once, but wrong: each reaches a YAML file, a script, a unit or a Kubernetes spec.
    ["objstore access key with a newline", (c) => (c.objstore.accessKey = "thanos\nregion: x"), /^thanos-global-view:objstore\.accessKey: an access key must not contain spaces, newlines/],
    ["objstore secret key with a newline", (c) => (c.objstoreSecretKey = "abc\ndef"), /^thanos-global-view:objstoreSecretKey: the secret key must be one line/],
    ["extra endpoint that is not an endpoint", (c) => (c.kubernetes.querier.extraEndpoints = ["not an endpoint"]), /^thanos-global-view:kubernetes\.querier\.extraEndpoints\[0\]\.address: must be host:port, dns\+host:port or dnssrv\+/],
    ["extra endpoint with a scheme", (c) => (c.kubernetes.querier.extraEndpoints = [{ address: "grpc://store:10901", tls: true }]), /^thanos-global-view:kubernetes\.querier\.extraEndpoints\[0\]\.address: must be host:port/],
    ["querier image with spaces", (c) => (c.kubernetes.querier.image = "quay.io/thanos/thanos v0.42.4"), /^thanos-global-view:kubernetes\.querier\.image: must be a container image reference/],
    ["download URL template with file://", (c) => (c.thanosDownload = { urlTemplate: "file:///srv/thanos-{version}.linux-{arch}.tar.gz" }), /^thanos-global-view:thanosDownload\.urlTemplate: must be an http:\/\/ or https:\/\/ URL/],
    ["sums URL template with a newline", (c) => (c.thanosDownload = { sha256sumsUrlTemplate: "https://mirror/sums.txt\nx" }), /^thanos-global-view:thanosDownload\.sha256sumsUrlTemplate: must be an http/],
    ["prometheusUrl with a newline (the URL parser would drop it)", (c) => (c.vms[0].prometheusUrl = "http://localhost:9090/\n"), /^thanos-global-view:vms\[0\]\.prometheusUrl: must be an http:\/\/ or https:\/\/ URL without spaces/],
    ["prometheusUrl with a space", (c) => (c.vms[0].prometheusUrl = "http://localhost:9090/prom etheus"), /^thanos-global-view:vms\[0\]\.prometheusUrl: must be an http/],
    ["prometheusUrl with a user and password (they would show in commands, unit and state)", (c) => (c.vms[0].prometheusUrl = "http://admin:s3cret@localhost:9090"), /^thanos-global-view:vms\[0\]\.prometheusUrl: must not hold a user or password: .*prometheusCredentials/],
    ["download URL template with a user and password", (c) => (c.thanosDownload = { urlTemplate: "https://u:p@mirror.example/v{version}/thanos-{version}.linux-{arch}.tar.gz" }), /^thanos-global-view:thanosDownload\.urlTemplate: must be an http:\/\/ or https:\/\/ URL .*or a user or password/],
    ["tsdbPath with a newline", (c) => (c.vms[0].tsdbPath = "/var/lib/prometheus\n/metrics2"), /^thanos-global-view:vms\[0\]\.tsdbPath: must be an absolute path without '\.\.' or control characters/],
    ["objstore region with a space", (c) => (c.objstore.region = "us east 1"), /^thanos-global-view:objstore\.region: must be a region name/],
    ["objstore prefix with a newline", (c) => (c.objstore.prefix = "a\nb"), /^thanos-global-view:objstore\.prefix: must not contain spaces or control characters/],
    ["objstore Secret key with a slash", (c) => (c.kubernetes.objstoreSecret = { key: "../objstore.yml" }), /^thanos-global-view:kubernetes\.objstoreSecret\.key: must be a Secret data key/],
    ["render directory with a newline", (c) => (c.kubernetes.renderYamlToDirectory = "out\nput"), /^thanos-global-view:kubernetes\.renderYamlToDirectory: the directory must be one line/],
    [
      "two VMs whose Prometheus configurePrometheus gives the same labels",
      (c) => {
        c.vms[0].configurePrometheus = { externalLabels: { cluster: "prom_vm" } };
        c.vms.push({ ...c.vms[0], name: "prom-vm-2", host: "10.0.0.159" });
      },
      /^thanos-global-view:vms\[1\]\.configurePrometheus\.externalLabels: prom-vm-2: configurePrometheus sets the external labels \{cluster="prom_vm"\}, as does vms\[0\] \(prom-vm\)/,
    ],
    [
      "HA replicas outside one haGroup",
      (c) => {
        c.vms[0].configurePrometheus = { externalLabels: { cluster: "prom_vm", prometheus_replica: "a" } };
        c.vms.push({ ...c.vms[0], name: "prom-vm-2", host: "10.0.0.159", configurePrometheus: { externalLabels: { cluster: "prom_vm", prometheus_replica: "b" } } });
      },
      /^thanos-global-view:vms\[1\]\.configurePrometheus\.externalLabels: prom-vm-2 is an HA replica of vms\[0\] \(prom-vm\).*give both the same haGroup/,
    ],
    ["credentials for a VM that does not exist", (c) => (c.prometheusCredentials = { "prom-vn": { bearerToken: "t" } }), /^thanos-global-view:prometheusCredentials\.prom-vn: no VM is named "prom-vn"/, [...REFERENCE_SECRET_KEYS, "prometheusCredentials"]],
    ["basic auth and a token at once", (c) => (c.prometheusCredentials = { "prom-vm": { username: "u", password: "p", bearerToken: "t" } }), /^thanos-global-view:prometheusCredentials\.prom-vm: takes basic auth/, [...REFERENCE_SECRET_KEYS, "prometheusCredentials"]],
    ["basic auth without a password", (c) => (c.prometheusCredentials = { "prom-vm": { username: "u" } }), /^thanos-global-view:prometheusCredentials\.prom-vm\.password: is required with basic auth/, [...REFERENCE_SECRET_KEYS, "prometheusCredentials"]],
    ["a user name with a colon", (c) => (c.prometheusCredentials = { "prom-vm": { username: "u:x", password: "p" } }), /^thanos-global-view:prometheusCredentials\.prom-vm\.username: must not contain ':'/, [...REFERENCE_SECRET_KEYS, "prometheusCredentials"]],
    ["a password with a newline", (c) => (c.prometheusCredentials = { "prom-vm": { username: "u", password: "p\nq" } }), /^thanos-global-view:prometheusCredentials\.prom-vm\.password: the password must be one line/, [...REFERENCE_SECRET_KEYS, "prometheusCredentials"]],
    ["Prometheus credentials in plain text", (c) => (c.prometheusCredentials = { "prom-vm": { bearerToken: "t" } }), /^thanos-global-view:prometheusCredentials: is stored in plain text/],
    ["a Prometheus CA that is not a certificate", (c) => (c.vms[0].prometheusCaCert = "hello"), /^thanos-global-view:vms\[0\]\.prometheusCaCert: must be a PEM certificate/],
    ["an haGroup that is not a DNS label", (c) => (c.vms[0].haGroup = "EU West"), /^thanos-global-view:vms\[0\]\.haGroup: must be a DNS label/],
    [
      "mixed TLS on 0.34.1",
      (c) => {
        c.thanosVersion = "0.34.1";
        c.tls = tlsConfig();
      },
      /^thanos-global-view:tls: Thanos 0\.34\.1 applies client TLS to all endpoints or none, but dnssrv\+_grpc\._tcp\.sidecar\.thanos\.svc\.cluster\.local would be plain; use TLS for every endpoint or Thanos 0\.42\.0 or later; to use TLS everywhere set tls\.inClusterSidecar: true/,
      [...REFERENCE_SECRET_KEYS, "tls"],
    ],
    [
      "TLS for a DNS-discovered endpoint beside a plain one",
      (c) => {
        c.tls = tlsConfig({ inClusterSidecar: true });
        c.kubernetes.querier.extraEndpoints = ["10.0.0.170:10901"];
      },
      /^thanos-global-view:tls: DNS-discovered endpoints \(dns\+\/dnssrv\+\) follow the querier's global TLS switch.*10\.0\.0\.170:10901/,
      [...REFERENCE_SECRET_KEYS, "tls"],
    ],
  ];

  const coldStorageBadConfigs: typeof badConfigs = [
    ["raw retention shorter than 40h", (c) => (c.kubernetes.compactor = { retention: { raw: "24h" } }), /^thanos-global-view:kubernetes\.compactor\.retention\.raw: must be at least 40h, or 0d to keep raw data forever: raw blocks get their 5m copy once they span 40h, so 1d deletes raw data/],
    ["5m retention shorter than 10d", (c) => (c.kubernetes.compactor = { retention: { fiveMinutes: "7d" } }), /^thanos-global-view:kubernetes\.compactor\.retention\.fiveMinutes: must be at least 10d, or 0d to keep it forever/],
    ["raw retention that is not a duration", (c) => (c.kubernetes.compactor = { retention: { raw: "30 days" } }), /^thanos-global-view:kubernetes\.compactor\.retention\.raw: must be a Prometheus duration/],
    ["1h retention that is not a duration", (c) => (c.kubernetes.compactor = { retention: { oneHour: "forever" } }), /^thanos-global-view:kubernetes\.compactor\.retention\.oneHour: must be a Prometheus duration/],
    ["5m retention that is not a duration", (c) => (c.kubernetes.compactor = { retention: { fiveMinutes: 30 } }), /^thanos-global-view:kubernetes\.compactor\.retention\.fiveMinutes: /],
    ["a compactor replica count", (c) => (c.kubernetes.compactor = { enabled: true, replicas: 2 }), /^thanos-global-view:kubernetes\.compactor\.replicas: there is no replica count to set: exactly one compactor may work on a bucket/],
    ["a delete delay that is not a duration", (c) => (c.kubernetes.compactor = { deleteDelay: "2 days" }), /^thanos-global-view:kubernetes\.compactor\.deleteDelay: must be a Prometheus duration/],
    ["zero compactor concurrency", (c) => (c.kubernetes.compactor = { concurrency: 0 }), /^thanos-global-view:kubernetes\.compactor\.concurrency: must be at least 1/],
    ["zero store gateway replicas", (c) => (c.kubernetes.storeGateway = { replicas: 0 }), /^thanos-global-view:kubernetes\.storeGateway\.replicas: must be at least 1/],
    ["an index cache size without a unit", (c) => (c.kubernetes.storeGateway = { indexCacheSize: "250" }), /^thanos-global-view:kubernetes\.storeGateway\.indexCacheSize: must be a size such as 250MB/],
    ["a chunk pool size with a space", (c) => (c.kubernetes.storeGateway = { chunkPoolSize: "2 GB" }), /^thanos-global-view:kubernetes\.storeGateway\.chunkPoolSize: must be a size such as 250MB/],
    ["a store gateway volume size that is not a quantity", (c) => (c.kubernetes.storeGateway = { storage: { size: "ten gigs" } }), /^thanos-global-view:kubernetes\.storeGateway\.storage\.size: must be a Kubernetes quantity/],
    ["a bad StorageClass name", (c) => (c.kubernetes.compactor = { storage: { storageClassName: "Fast_SSD" } }), /^thanos-global-view:kubernetes\.compactor\.storage\.storageClassName: must be a StorageClass name/],
    ["an unknown storage key", (c) => (c.kubernetes.storeGateway = { storage: { class: "ssd" } }), /^thanos-global-view:kubernetes\.storeGateway\.storage\.class: unknown key/],
    ["an empty time partition", (c) => (c.kubernetes.storeGateway = { timePartitions: [{}] }), /^thanos-global-view:kubernetes\.storeGateway\.timePartitions\[0\]: must set minTime, maxTime or both/],
    ["a time partition bound that is no time", (c) => (c.kubernetes.storeGateway = { timePartitions: [{ maxTime: "-2w" }, { minTime: "yesterday" }] }), /^thanos-global-view:kubernetes\.storeGateway\.timePartitions\[1\]\.minTime: must be an RFC 3339 time such as 2026-01-01T00:00:00Z or a duration relative to now such as -2w/],
    ["a time partition that ends before it starts", (c) => (c.kubernetes.storeGateway = { timePartitions: [{ minTime: "-1w", maxTime: "-2w" }] }), /^thanos-global-view:kubernetes\.storeGateway\.timePartitions\[0\]\.maxTime: must be later than minTime \(-7d\)/],
    ["a time partition with absolute bounds reversed", (c) => (c.kubernetes.storeGateway = { timePartitions: [{ minTime: "2026-06-01T00:00:00Z", maxTime: "2026-01-01T00:00:00Z" }] }), /^thanos-global-view:kubernetes\.storeGateway\.timePartitions\[0\]\.maxTime: must be later than minTime/],
    ["a store gateway name that is no DNS label", (c) => (c.kubernetes.storeGateway = { name: "Thanos_Store" }), /^thanos-global-view:kubernetes\.storeGateway\.name: must be a DNS label/],
    ["a zero split interval", (c) => (c.kubernetes.queryFrontend = { splitInterval: "0s" }), /^thanos-global-view:kubernetes\.queryFrontend\.splitInterval: must be longer than 0s/],
    ["a cache size that is no size", (c) => (c.kubernetes.queryFrontend = { cache: { maxSize: "lots" } }), /^thanos-global-view:kubernetes\.queryFrontend\.cache\.maxSize: must be a size/],
    ["a cache validity that is not a duration", (c) => (c.kubernetes.queryFrontend = { cache: { validity: "1 day" } }), /^thanos-global-view:kubernetes\.queryFrontend\.cache\.validity: must be a Prometheus duration/],
    ["a misspelt query frontend key", (c) => (c.kubernetes.queryFrontend = { splitInteval: "24h" }), /^thanos-global-view:kubernetes\.queryFrontend\.splitInteval: unknown key/],
    ["a bad monitoring interval", (c) => (c.kubernetes.monitoring = { enabled: true, interval: "often" }), /^thanos-global-view:kubernetes\.monitoring\.interval: must be a Prometheus duration/],
    ["a monitoring label that is no Kubernetes label", (c) => (c.kubernetes.monitoring = { labels: { "my release": "x" } }), /^thanos-global-view:kubernetes\.monitoring\.labels\.my release: the key "my release" must be a Kubernetes label key/],
    ["the objstore Secret named like the components' one", (c) => (c.kubernetes.objstoreSecret = { name: "thanos-objstore-config" }), /^thanos-global-view:kubernetes\.objstoreSecret\.name: thanos-objstore-config is the Secret the store gateway and compactor mount in thanos; choose another name/],
    [
      "the store gateway listed by hand as an extra endpoint",
      (c) => {
        c.kubernetes.storeGateway = { enabled: true };
        c.kubernetes.querier.extraEndpoints = ["dnssrv+_grpc._tcp.thanos-store.thanos.svc.cluster.local"];
      },
      /^thanos-global-view:kubernetes\.querier\.extraEndpoints\[0\]: dnssrv\+_grpc\._tcp\.thanos-store\.thanos\.svc\.cluster\.local is already dialled/,
    ],
    [
      "TLS everywhere on 0.34.1 beside the plain store gateway",
      (c) => {
        c.thanosVersion = "0.34.1";
        c.tls = tlsConfig({ inClusterSidecar: true });
        c.kubernetes.storeGateway = { enabled: true };
      },
      /^thanos-global-view:tls: Thanos 0\.34\.1 applies client TLS to all endpoints or none, but dnssrv\+_grpc\._tcp\.thanos-store\.thanos\.svc\.cluster\.local would be plain/,
      [...REFERENCE_SECRET_KEYS, "tls"],
    ],
  ];
  badConfigs.push(...coldStorageBadConfigs);

  it("parses the cold storage keys into typed values, each component off by default", () => {
    const defaults = parse(referenceConfig()).kubernetes;
    assert.deepEqual(
      [defaults.storeGateway.enabled, defaults.compactor.enabled, defaults.queryFrontend.enabled, defaults.monitoring.enabled],
      [false, false, false, false],
    );
    assert.deepEqual(defaults.compactor.retention, { raw: 30 * 86_400_000, fiveMinutes: 30 * 86_400_000, oneHour: 3650 * 86_400_000 });
    assert.equal(defaults.compactor.deleteDelay, 48 * 3_600_000);
    assert.deepEqual(defaults.storeGateway.storage, { size: "10Gi", emptyDir: false });
    assert.equal(defaults.queryFrontend.splitInterval, 24 * 3_600_000);
    const config = parse(
      changed((c) => {
        c.kubernetes.compactor = { retention: { raw: "2d12h", fiveMinutes: "0d" }, deleteDelay: "90m" };
        c.kubernetes.storeGateway = { timePartitions: [{ maxTime: "-2w" }, { minTime: "-14d", maxTime: "2026-01-01T00:00:00Z" }] };
      }),
    ).kubernetes;
    assert.equal(config.compactor.retention.raw, 60 * 3_600_000, "compound durations add up");
    assert.equal(config.compactor.retention.fiveMinutes, 0);
    assert.equal(config.compactor.deleteDelay, 90 * 60_000);
    assert.deepEqual(config.storeGateway.timePartitions, [{ maxTime: "-14d" }, { minTime: "-14d", maxTime: "2026-01-01T00:00:00Z" }]);
  });

  it("takes a raw retention under 40h when downsampling is off (nothing is lost before a 5m copy then)", () => {
    const config = parse(changed((c) => (c.kubernetes.compactor = { downsampling: false, retention: { raw: "24h", fiveMinutes: "1d" } })));
    assert.equal(config.kubernetes.compactor.retention.raw, 24 * 3_600_000);
  });

  for (const [what, mutate, expected, secretKeys] of badConfigs) {
    it(`rejects ${what}`, () => {
      const problems = problemsOf(changed(mutate), secretKeys);
      // Exactly the one problem: a second, misleading one would only confuse.
      assert.equal(problems.length, 1, problems.join("\n"));
      assert.match(problems[0], expected);
    });
  }

  it("covers at least 20 bad configs, 15 of them for the cold storage keys", () => {
    assert.ok(badConfigs.length >= 20);
    assert.ok(coldStorageBadConfigs.length >= 15);
  });

  it("accepts odd but legal values: a tsdbPath with a space, a quote and $(...), a prometheusUrl with a quote", () => {
    const config = parse(
      changed((c) => {
        c.vms[0].tsdbPath = "/srv/prom data/it's $(touch /tmp/owned)";
        c.vms[0].prometheusUrl = "http://localhost:9090/it's";
      }),
    );
    assert.equal(config.vms[0].tsdbPath, "/srv/prom data/it's $(touch /tmp/owned)");
    assert.equal(config.vms[0].prometheusUrl, "http://localhost:9090/it's");
  });

  it("accepts every endpoint form the querier takes, and image references with a registry port and a digest", () => {
    const config = parse(
      changed((c) => {
        c.kubernetes.querier.extraEndpoints = [
          "dnssrv+_grpc._tcp.thanos-store.thanos.svc.cluster.local",
          "dnssrvnoa+_grpc._tcp.store.example.com",
          "dns+thanos-store.thanos.svc.cluster.local:10901",
          "[fd00::1]:10901",
          { address: "10.0.0.170:10901" },
        ];
        c.kubernetes.querier.image = `registry.local:5000/mirror/thanos:v0.42.4@sha256:${"a".repeat(64)}`;
      }),
    );
    assert.equal(config.kubernetes.querier.extraEndpoints.length, 5);
  });
});
