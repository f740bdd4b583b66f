// The sandbox's Kubernetes: a real single-node cluster on this machine, started on demand. etcd (Debian's), the
// control plane, containerd + runc (Debian's) with the kubelet, kube-proxy (nftables) so ClusterIP Services route,
// a bridge CNI network and CoreDNS answering cluster.local; Kubernetes v1.35.4 from test/build/build-kubernetes, the
// images from test/build/build-images, imported into containerd (nothing is ever pulled). The daemons are processes
// of the caller's ProcessRegistry; what they change on the machine is undone by clusterHost.ts's one cleanup when
// the registry stops, when the process is interrupted, or at the next start after a run that was killed outright.
//
// It is not a production cluster: one node, no cloud load balancer or provisioner (local volumes made beforehand),
// no network policy, certificates made at every start. Every host listener is on loopback or on the bridge address
// (10.244.0.1); pods and the VM have no default route, and CoreDNS forwards nothing, so no packet leaves the machine.
// Needs root.
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { runCommand, type CommandResult } from "../harness/command";
import { REPO_ROOT } from "../repo";
import {
  apiServerUrl,
  clusterPaths,
  clusterResolvConf,
  cniConfig,
  containerdConfig,
  corednsObjects,
  kubeletConfig,
  kubeProxyConfig,
  localVolume,
  CONTAINERD_ENV,
  storageClass,
  type ClusterPaths,
} from "./clusterFiles";
import {
  createCgroups,
  mustRunSync,
  restoreSysctls,
  runSync,
  staleStateFound,
  undoClusterHostState,
  writeLedger,
  type Ledger,
} from "./clusterHost";
import {
  API_PORT,
  BRIDGE,
  GUARD_TABLE,
  HOST_ADDRESS,
  NODE_NAME,
  POD_CIDR,
  SERVICE_CIDR,
  VM_ADDRESS,
  VM_NETNS,
  VM_VETH_HOST,
  VM_VETH_PEER,
} from "./clusterNetwork";
import { createClusterPki } from "./clusterPki";
import { kubernetesBinDir } from "./kubeApiserver";
import { freePorts, httpRequest } from "./ports";
import { onExitCleanup, runForStdout, sleep, startProcess, type ManagedProcess, type ProcessRegistry } from "./process";

/** A container image test/build/build-images packs: its name and its docker-archive. */
export interface ImageArchive {
  name: string;
  tarball: string;
}

/** Packs (or finds cached) the images test/build/build-images knows by these names ("thanos:0.42.4", "pause", ...). */
export async function buildImages(images: readonly string[]): Promise<ImageArchive[]> {
  const out = await runForStdout(path.join(REPO_ROOT, "test", "build", "build-images"), images);
  return out.trim().split("\n").map((line) => {
    const [name, tarball] = line.split(" ");
    return { name, tarball };
  });
}

/** Images every cluster runs: the pod sandbox and CoreDNS. */
const BASE_IMAGES = ["pause", "coredns"];

export interface StartClusterOptions {
  /** State goes to <runDir>/cluster (removed on stop), logs to <runDir>/logs/cluster (kept). */
  runDir: string;
  registry: ProcessRegistry;
  /** More images to import, as build-images names them (e.g. "thanos:0.42.4", "prometheus"). */
  images?: readonly string[];
  log?: (line: string) => void;
}

export interface KubectlOptions {
  stdin?: string;
  /** Resolve with a failing result instead of throwing. */
  allowFailure?: boolean;
  /** Default 2 minutes. */
  timeoutMs?: number;
}

/** A running sandbox cluster: kubectl as its admin, and the helpers the sandbox needs on top. */
export class Cluster {
  /** The admin's kubeconfig (system:masters), for kubectl and for the stack's kubernetes provider. */
  readonly kubeconfig: string;
  readonly kubectlBinary: string;
  /** How long each phase of the boot took, in seconds from the start. */
  readonly bootTimes: Record<string, number> = {};

  constructor(
    readonly paths: ClusterPaths,
    readonly binDir: string,
    private readonly ledger: Ledger,
    private readonly log: (line: string) => void,
  ) {
    this.kubeconfig = path.join(paths.kubeconfigs, "admin.kubeconfig");
    this.kubectlBinary = path.join(binDir, "kubectl");
  }

  /** The environment a client of the cluster needs (kubectl, the Pulumi kubernetes provider). */
  get env(): Record<string, string> {
    return { KUBECONFIG: this.kubeconfig };
  }

  /** The API server as the host reaches it. */
  get apiServerUrl(): string {
    return apiServerUrl();
  }

  /** Runs kubectl as the cluster's admin; throws with its output unless it succeeds or allowFailure is set. */
  async kubectl(args: readonly string[], options: KubectlOptions = {}): Promise<CommandResult> {
    const result = await runCommand(this.kubectlBinary, args, {
      env: { ...process.env, ...this.env },
      stdin: options.stdin,
      timeoutMs: options.timeoutMs ?? 2 * 60_000,
    });
    if (result.code !== 0 && !options.allowFailure) {
      throw new Error(`kubectl ${args.join(" ")}: ${result.signal ?? `exit ${result.code}`}: ${`${result.stderr}\n${result.stdout}`.trim().slice(0, 3000)}`);
    }
    return result;
  }

  /** `kubectl get ... -o json`, parsed. */
  async getJson<T>(args: readonly string[]): Promise<T> {
    return JSON.parse((await this.kubectl(["get", ...args, "-o", "json"])).stdout) as T;
  }

  /**
   * host:port of a named container port on each Ready pod whose app.kubernetes.io/instance is `instance`, sorted (the
   * host is on the pods' bridge, so it reaches them as the querier does).
   */
  async readyPodAddresses(namespace: string, instance: string, portName: string): Promise<string[]> {
    const pods = await this.getJson<{
      items: {
        metadata: { name: string; deletionTimestamp?: string };
        spec: { containers: { ports?: { name?: string; containerPort: number }[] }[] };
        status: { podIP?: string; conditions?: { type: string; status: string }[] };
      }[];
    }>(["-n", namespace, "pods", "-l", `app.kubernetes.io/instance=${instance}`]);
    return pods.items
      .filter((pod) => !pod.metadata.deletionTimestamp && pod.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"))
      .map((pod) => {
        const port = pod.spec.containers.flatMap((container) => container.ports ?? []).find((candidate) => candidate.name === portName);
        if (!port) throw new Error(`pod ${namespace}/${pod.metadata.name} has no port named ${portName}`);
        return `${pod.status.podIP}:${port.containerPort}`;
      })
      .sort();
  }

  /** Server-side apply of objects (one List, so kubectl orders Namespaces and CRDs first). */
  async apply(objects: readonly unknown[]): Promise<void> {
    const list = { apiVersion: "v1", kind: "List", items: objects };
    await this.kubectl(["apply", "--server-side", "--field-manager=thanos-global-view-sandbox", "-f", "-"], { stdin: JSON.stringify(list) });
  }

  /** Waits until a Deployment or StatefulSet has rolled out (`kubectl rollout status`). */
  async rolloutStatus(resource: string, namespace: string, timeoutSeconds = 120): Promise<void> {
    await this.kubectl(["-n", namespace, "rollout", "status", resource, `--timeout=${timeoutSeconds}s`], { timeoutMs: (timeoutSeconds + 30) * 1000 });
  }

  /** Local PersistentVolumes of the default StorageClass, one directory each below the data directory. */
  async createLocalVolumes(names: readonly string[], size: string): Promise<void> {
    const volumes = names.map((name) => {
      const dir = path.join(this.paths.volumes, name);
      fs.mkdirSync(dir, { recursive: true });
      // Writable by the pods' users (their fsGroup applies only to the files they make).
      fs.chmodSync(dir, 0o777);
      return localVolume(name, dir, size);
    });
    await this.apply(volumes);
  }

  /**
   * A network namespace for the VM on the bridge, as a machine on the cluster's network: eth0 at VM_ADDRESS, a route
   * to the Service range through the host, no default route. Removed with the cluster. Resolves to its path, for
   * systemd-nspawn --network-namespace-path.
   */
  attachVmNetwork(): string {
    const inVm = (...args: string[]) => mustRunSync("ip", ["-n", VM_NETNS, ...args]);
    mustRunSync("ip", ["netns", "add", VM_NETNS]);
    mustRunSync("ip", ["link", "add", VM_VETH_HOST, "type", "veth", "peer", "name", VM_VETH_PEER]);
    mustRunSync("ip", ["link", "set", VM_VETH_PEER, "netns", VM_NETNS]);
    mustRunSync("ip", ["link", "set", VM_VETH_HOST, "master", BRIDGE, "up"]);
    inVm("link", "set", "lo", "up");
    inVm("link", "set", VM_VETH_PEER, "name", "eth0");
    inVm("addr", "add", `${VM_ADDRESS}/16`, "dev", "eth0");
    inVm("link", "set", "eth0", "up");
    inVm("route", "add", SERVICE_CIDR, "via", HOST_ADDRESS);
    return `/run/netns/${VM_NETNS}`;
  }

  /** Puts back sysctls the kubelet rewrote at start (forwarding stays on while the cluster runs). */
  restoreKubeletSysctls(): void {
    for (const change of restoreSysctls(this.ledger, true)) this.log(`restored ${change}`);
  }
}

/** Fails unless the address ranges the cluster uses are free on this machine. */
function checkRangesFree(): void {
  const used = [
    ...runSync("ip", ["-o", "-4", "addr", "show"]).stdout.split("\n").map((line) => line.split(/\s+/)[3]),
    ...runSync("ip", ["-4", "route", "show", "table", "all"]).stdout.split("\n").map((line) => line.split(" ")[0]),
  ].filter((entry): entry is string => Boolean(entry) && (entry.startsWith("10.244.") || entry.startsWith("10.96.")));
  if (used.length > 0) throw new Error(`the sandbox cluster's address ranges ${POD_CIDR} and ${SERVICE_CIDR} are in use on this machine: ${used.join(", ")}`);
}

/** The bridge with the host's address, and a guard: forwarding must be on, but never between the bridge and elsewhere. */
function createBridge(): void {
  mustRunSync("ip", ["link", "add", BRIDGE, "type", "bridge"]);
  mustRunSync("ip", ["addr", "add", `${HOST_ADDRESS}/16`, "dev", BRIDGE]);
  mustRunSync("ip", ["link", "set", BRIDGE, "up"]);
  mustRunSync("nft", ["-f", "-"], [
    `table inet ${GUARD_TABLE} {`,
    "  chain forward {",
    "    type filter hook forward priority -10; policy accept;",
    `    iifname "${BRIDGE}" oifname != "${BRIDGE}" counter drop`,
    `    oifname "${BRIDGE}" iifname != "${BRIDGE}" counter drop`,
    "  }",
    "}",
    "",
  ].join("\n"));
  fs.writeFileSync("/proc/sys/net/ipv4/ip_forward", "1\n");
}

function writeConfigFiles(paths: ClusterPaths): void {
  for (const dir of [paths.etcd, paths.containerdRoot, paths.containerdState, paths.cniConfigDir, paths.cniIpamDir, paths.kubeletRoot, paths.podLogs, paths.volumes]) {
    fs.mkdirSync(dir, { recursive: true });
  }
  fs.chmodSync(paths.etcd, 0o700);
  fs.writeFileSync(paths.containerdConfig, containerdConfig(paths));
  fs.writeFileSync(path.join(paths.cniConfigDir, "10-sandbox.conflist"), cniConfig(paths));
  fs.writeFileSync(paths.kubeletConfig, YAML.stringify(kubeletConfig(paths)));
  fs.writeFileSync(paths.kubeProxyConfig, YAML.stringify(kubeProxyConfig(paths)));
  fs.writeFileSync(paths.resolvConf, clusterResolvConf());
}

/** Polls `check` until it holds, failing at once (with its log) if `daemon` exits meanwhile. */
async function waitForDaemon(daemon: ManagedProcess, what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!daemon.running) throw new Error(`${daemon.name} exited (${daemon.describeExit()}) before ${what}; last log lines:\n${daemon.logTail()}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last lines of ${daemon.logFile}:\n${daemon.logTail(15)}`);
    await sleep(200);
  }
}

/**
 * Boots a cluster and resolves once the node is Ready and CoreDNS answers. Removes a stale cluster's leftovers
 * first; refuses while another cluster runs. What it started and changed is undone when `registry` stops (also when
 * this fails part-way: the caller stops the registry as usual).
 */
export async function startCluster(options: StartClusterOptions): Promise<Cluster> {
  const log = options.log ?? (() => undefined);
  if (process.getuid?.() !== 0) throw new Error("the sandbox cluster needs root (network, cgroups, mounts)");
  // Builds before the machine is touched: a cold one takes many minutes.
  const [binDir, images] = await Promise.all([kubernetesBinDir(), buildImages([...BASE_IMAGES, ...(options.images ?? [])])]);

  const stale = staleStateFound();
  if (stale.length > 0) {
    log(`leftovers of an earlier cluster found (${stale.join("; ")}): removing them first`);
    undoClusterHostState({ log, stale: true });
  }
  checkRangesFree();
  const started = Date.now();
  const paths = clusterPaths(options.runDir);
  const ledger = writeLedger(paths.dataDir, paths.containerdSocket);
  // From here on one cleanup undoes everything: after the daemons when the registry stops (it runs last, being
  // registered first), or from the exit handler if this process is interrupted first.
  const cleanup = () => undoClusterHostState({ log });
  const unregister = onExitCleanup("the sandbox cluster", cleanup);
  options.registry.defer("the sandbox cluster's changes to the machine", () => {
    unregister();
    return Promise.resolve(cleanup());
  });
  const cluster = new Cluster(paths, binDir, ledger, log);
  const mark = (what: string) => {
    cluster.bootTimes[what] = (Date.now() - started) / 1000;
  };
  const bin = (name: string) => path.join(binDir, name);
  const daemon = (name: string, command: string, args: string[], settings: { stopSignal?: NodeJS.Signals; env?: Record<string, string> } = {}) =>
    startProcess({ name, command, args, logFile: path.join(paths.logDir, `${name}.log`), registry: options.registry, ...settings });

  createBridge();
  createCgroups();
  writeConfigFiles(paths);
  await createClusterPki(paths);
  const pki = (file: string) => path.join(paths.pki, file);
  const kubeconfigOf = (name: string) => path.join(paths.kubeconfigs, `${name}.kubeconfig`);

  // etcd and containerd (with the image imports) start together: neither needs the other.
  const [etcdPort, etcdPeerPort] = await freePorts(2);
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const etcdPeerUrl = `http://127.0.0.1:${etcdPeerPort}`;
  // Its data is thrown away with the cluster: no graceful stop for it or the API server (SIGTERM costs seconds).
  const etcd = daemon("etcd", "etcd", [
    "--name=sandbox",
    `--data-dir=${paths.etcd}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=${etcdPeerUrl}`,
    `--initial-advertise-peer-urls=${etcdPeerUrl}`,
    `--initial-cluster=sandbox=${etcdPeerUrl}`,
    "--initial-cluster-state=new",
  ], { stopSignal: "SIGKILL" });
  // Its registry client resolves nothing: it goes to a closed "proxy" (CONTAINERD_ENV).
  const containerd = daemon("containerd", "containerd", ["--config", paths.containerdConfig], { env: CONTAINERD_ENV });
  const ctr = (...args: string[]) => runCommand("ctr", ["--address", paths.containerdSocket, "--namespace", "k8s.io", ...args]);
  const imported = (async () => {
    await waitForDaemon(containerd, "containerd", async () => (await ctr("version")).code === 0, 30_000);
    await Promise.all(images.map(async (image) => {
      const result = await ctr("images", "import", image.tarball);
      if (result.code !== 0) throw new Error(`importing ${image.name} (${image.tarball}): ${result.stderr.trim()}`);
    }));
    mark("containerd ready, images imported");
  })();
  // Awaited below, after the API server; a failure meanwhile must not count as an unhandled rejection.
  imported.catch(() => undefined);

  await waitForDaemon(etcd, "etcd", async () => {
    const response = await httpRequest({ url: `${etcdUrl}/health`, timeoutMs: 1_000 }).catch(() => undefined);
    return response?.status === 200;
  }, 30_000);
  mark("etcd healthy");
  const apiserver = daemon("kube-apiserver", bin("kube-apiserver"), [
    `--etcd-servers=${etcdUrl}`,
    // Its one listener. Pods reach it through the kubernetes Service, whose endpoint is the advertised address; without
    // one it would advertise the machine's own interface.
    `--bind-address=${HOST_ADDRESS}`,
    `--advertise-address=${HOST_ADDRESS}`,
    `--secure-port=${API_PORT}`,
    `--tls-cert-file=${pki("apiserver.crt")}`,
    `--tls-private-key-file=${pki("apiserver.key")}`,
    `--client-ca-file=${pki("ca.crt")}`,
    `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
    `--service-account-key-file=${pki("sa.pub")}`,
    `--service-account-signing-key-file=${pki("sa.key")}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    "--authorization-mode=Node,RBAC",
    "--enable-admission-plugins=NodeRestriction",
    `--kubelet-client-certificate=${pki("apiserver-kubelet-client.crt")}`,
    `--kubelet-client-key=${pki("apiserver-kubelet-client.key")}`,
    `--kubelet-certificate-authority=${pki("ca.crt")}`,
    // By address: otherwise it resolves the node's name through the machine's resolver, i.e. off the machine.
    "--kubelet-preferred-address-types=InternalIP",
    "--profiling=false",
  ], { stopSignal: "SIGKILL" });
  const caCertificate = fs.readFileSync(pki("ca.crt"), "utf8");
  await waitForDaemon(apiserver, "kube-apiserver /readyz", async () => {
    // /readyz is open to anonymous clients (system:public-info-viewer).
    const response = await httpRequest({ url: `${apiServerUrl()}/readyz`, ca: caCertificate, timeoutMs: 2_000 }).catch(() => undefined);
    return response?.status === 200;
  }, 90_000);
  mark("kube-apiserver ready");

  // After /readyz: the controller-manager exits if RBAC's bootstrap policy is not in place yet. Neither serves
  // HTTPS (port 0): nothing here reads their health or metrics, and the defaults would listen on every interface.
  daemon("kube-controller-manager", bin("kube-controller-manager"), [
    `--kubeconfig=${kubeconfigOf("controller-manager")}`,
    "--secure-port=0",
    "--leader-elect=false",
    `--service-account-private-key-file=${pki("sa.key")}`,
    `--root-ca-file=${pki("ca.crt")}`,
    "--use-service-account-credentials=true",
    "--profiling=false",
  ]);
  daemon("kube-scheduler", bin("kube-scheduler"), [`--kubeconfig=${kubeconfigOf("scheduler")}`, "--secure-port=0", "--leader-elect=false", "--profiling=false"]);

  await imported;
  const kubeletStarted = Date.now();
  const kubelet = daemon("kubelet", bin("kubelet"), [
    `--config=${paths.kubeletConfig}`,
    `--kubeconfig=${kubeconfigOf("kubelet")}`,
    `--root-dir=${paths.kubeletRoot}`,
    // The kubelet refuses a loopback node address; the bridge's is the node's.
    `--node-ip=${HOST_ADDRESS}`,
    `--hostname-override=${NODE_NAME}`,
  ]);
  await waitForDaemon(kubelet, `node ${NODE_NAME} Ready`, async () => {
    const result = await cluster.kubectl(["get", "node", NODE_NAME, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"], { allowFailure: true });
    return result.stdout === "True";
  }, 120_000);
  mark("node Ready");
  log(`node Ready ${((Date.now() - kubeletStarted) / 1000).toFixed(1)} s after the kubelet started`);
  // At start the kubelet set vm.overcommit_memory, kernel.panic and kernel.panic_on_oops machine-wide.
  cluster.restoreKubeletSysctls();
  daemon("kube-proxy", bin("kube-proxy"), [`--config=${paths.kubeProxyConfig}`]);

  await cluster.apply([...corednsObjects(), storageClass()]);
  await cluster.rolloutStatus("deployment/coredns", "kube-system");
  mark("CoreDNS available");
  // The kubelet writes those sysctls once only; checked again all the same.
  cluster.restoreKubeletSysctls();
  log(`cluster up in ${((Date.now() - started) / 1000).toFixed(1)} s (${Object.entries(cluster.bootTimes).map(([what, at]) => `${what} ${at.toFixed(1)} s`).join(", ")})`);
  return cluster;
}
