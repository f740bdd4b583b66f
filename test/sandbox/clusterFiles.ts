// The sandbox cluster's configuration files and add-on manifests, as pure functions of its paths: containerd's
// config, the CNI network, the kubelet's and kube-proxy's configurations, the resolver pods get, kubeconfigs, CoreDNS
// and the local storage class. Each setting is here because a real node on this kind of machine needs it, or to keep
// every listener on loopback or the bridge and every packet on the machine; the comments say which.
import * as path from "node:path";
import * as YAML from "yaml";
import {
  API_PORT,
  BRIDGE,
  CGROUP_ROOT,
  CLUSTER_DOMAIN,
  CNI_NETWORK,
  CONTAINERD_SOCKET,
  DNS_SERVICE_IP,
  HOST_ADDRESS,
  KUBELET_PORT,
  KUBELET_ROOT,
  NODE_NAME,
  POD_CIDR,
  POD_RANGE,
  SERVICE_CIDR,
} from "./clusterNetwork";

/**
 * Where a cluster keeps its state: one directory, removed when it stops, plus its logs, which are kept; and beside
 * the ledger, for their unix sockets' sake, containerd's socket and the kubelet's root, removed with it.
 */
export interface ClusterPaths {
  dataDir: string;
  logDir: string;
  pki: string;
  kubeconfigs: string;
  etcd: string;
  containerdConfig: string;
  containerdRoot: string;
  containerdState: string;
  /** CONTAINERD_SOCKET. */
  containerdSocket: string;
  cniConfigDir: string;
  cniIpamDir: string;
  /** KUBELET_ROOT. */
  kubeletRoot: string;
  kubeletConfig: string;
  kubeProxyConfig: string;
  resolvConf: string;
  podLogs: string;
  /** Directories backing the local PersistentVolumes. */
  volumes: string;
}

export function clusterPaths(runDir: string): ClusterPaths {
  const dataDir = path.join(runDir, "cluster");
  const containerd = path.join(dataDir, "containerd");
  return {
    dataDir,
    logDir: path.join(runDir, "logs", "cluster"),
    pki: path.join(dataDir, "pki"),
    kubeconfigs: path.join(dataDir, "kubeconfig"),
    etcd: path.join(dataDir, "etcd"),
    containerdConfig: path.join(containerd, "config.toml"),
    containerdRoot: path.join(containerd, "root"),
    containerdState: path.join(containerd, "state"),
    containerdSocket: CONTAINERD_SOCKET,
    cniConfigDir: path.join(dataDir, "cni", "net.d"),
    cniIpamDir: path.join(dataDir, "cni", "ipam"),
    kubeletRoot: KUBELET_ROOT,
    kubeletConfig: path.join(dataDir, "kubelet.yaml"),
    kubeProxyConfig: path.join(dataDir, "kube-proxy.yaml"),
    resolvConf: path.join(dataDir, "resolv.conf"),
    podLogs: path.join(dataDir, "pod-logs"),
    volumes: path.join(dataDir, "volumes"),
  };
}

/** The sandbox image containerd runs every pod's sandbox from (test/build/build-images pause). */
export const PAUSE_IMAGE = "sandbox.thanos-global-view.local/pause:1";

/** containerd 1.6 (Debian bookworm) as the kubelet's CRI: every path its own, no registry reachable. */
export function containerdConfig(paths: ClusterPaths): string {
  const q = JSON.stringify;
  return `# Rendered by test/sandbox/clusterFiles.ts.
version = 2
root = ${q(paths.containerdRoot)}
state = ${q(paths.containerdState)}
# "opt" would create /opt/containerd; the rest are snapshotters and exporters nothing here uses.
disabled_plugins = [
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = ${q(paths.containerdSocket)}

[ttrpc]
  address = ${q(`${paths.containerdSocket}.ttrpc`)}

# No debug or metrics listener.
[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${q(PAUSE_IMAGE)}
  # Without CAP_SYS_RESOURCE (this machine has none) runc cannot lower a container's oom_score_adj below its
  # parent's, and every sandbox would fail ("can't get final child's PID from pipe").
  restrict_oom_score_adj = true
  # No AppArmor, SELinux or hugetlb controller on this machine.
  disable_apparmor = true
  enable_selinux = false
  tolerate_missing_hugetlb_controller = true
  # exec, logs and port-forward stream through this listener: loopback, a port the kernel picks.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # Pod network namespaces are bind-mounted below the state directory, not in /run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/bin/runc"
        # runc's state; by default /run/containerd/runc/<namespace>.
        Root = ${q(path.join(paths.containerdState, "runc"))}
        # cgroupfs: no systemd runs as PID 1 here.
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    # Debian's containernetworking-plugins.
    bin_dir = "/usr/lib/cni"
    conf_dir = ${q(paths.cniConfigDir)}
    max_conf_num = 1
`;
}

/**
 * containerd's environment. An image that was not imported (a typo, a version never packed) must fail on the
 * machine, but containerd would resolve the registry's name through the machine's resolver; a registry mirror in a
 * hosts.toml does not help (1.6 has no catch-all `_default` host, and the name is still resolved). Through a proxy a
 * client resolves nothing itself: this one is a closed loopback port, so a pull fails at once with "proxyconnect
 * tcp: dial tcp 127.0.0.1:9: connect: connection refused".
 */
export const CONTAINERD_ENV = { HTTPS_PROXY: "http://127.0.0.1:9", HTTP_PROXY: "http://127.0.0.1:9", NO_PROXY: "" };

/**
 * The pods' network: a bridge with the host as gateway for the Service range only. No default route (pods reach
 * nothing off the machine), no masquerading (so the plugin adds no iptables rules), addresses kept in the data dir.
 */
export function cniConfig(paths: ClusterPaths): string {
  return `${JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: CNI_NETWORK,
      plugins: [
        {
          type: "bridge",
          bridge: BRIDGE,
          isGateway: true,
          isDefaultGateway: false,
          ipMasq: false,
          // A pod reaching itself through its Service.
          hairpinMode: true,
          ipam: {
            type: "host-local",
            dataDir: paths.cniIpamDir,
            ranges: [[{ subnet: POD_CIDR, rangeStart: POD_RANGE.start, rangeEnd: POD_RANGE.end, gateway: HOST_ADDRESS }]],
            routes: [{ dst: POD_CIDR }, { dst: SERVICE_CIDR, gw: HOST_ADDRESS }],
          },
        },
      ],
    },
    null,
    2,
  )}\n`;
}

/** The resolver every pod is given (the kubelet's resolvConf), and the VM: the cluster DNS alone. */
export function clusterResolvConf(): string {
  return `nameserver ${DNS_SERVICE_IP}\nsearch ${CLUSTER_DOMAIN}\noptions ndots:5\n`;
}

/** The kubelet, on a cgroup v1 machine without systemd and without CAP_SYS_RESOURCE. */
export function kubeletConfig(paths: ClusterPaths): Record<string, unknown> {
  return {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    // Its API on the bridge address, where the API server reaches it (exec, logs, port-forward); health on loopback;
    // no read-only port.
    address: HOST_ADDRESS,
    port: KUBELET_PORT,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: 10248,
    tlsCertFile: path.join(paths.pki, "kubelet.crt"),
    tlsPrivateKeyFile: path.join(paths.pki, "kubelet.key"),
    // Only clients with a certificate of the cluster's CA (the API server's) are let in.
    authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: path.join(paths.pki, "ca.crt") } },
    authorization: { mode: "AlwaysAllow" },
    containerRuntimeEndpoint: `unix://${paths.containerdSocket}`,
    // 1.35 refuses cgroup v1 unless told otherwise; this machine has only v1 controllers.
    failCgroupV1: false,
    cgroupDriver: "cgroupfs",
    cgroupRoot: `/${CGROUP_ROOT}`,
    cgroupsPerQOS: true,
    failSwapOn: false,
    // Otherwise it adds KUBE-FIREWALL and canary chains to the machine's iptables.
    makeIPTablesUtilChains: false,
    // Lowering oom_score_adj needs CAP_SYS_RESOURCE.
    oomScoreAdj: 0,
    clusterDomain: CLUSTER_DOMAIN,
    clusterDNS: [DNS_SERVICE_IP],
    // The "host" resolver pods with dnsPolicy Default get: the cluster DNS, never the machine's resolver.
    resolvConf: paths.resolvConf,
    podLogsDir: paths.podLogs,
    serializeImagePulls: false,
    registerNode: true,
    rotateCertificates: false,
    serverTLSBootstrap: false,
    // The machine's disk is shared and may be fuller than the defaults allow (15 % free): the cluster must not evict
    // its pods or delete its imported images (there is nowhere to pull them from) because of other users' files.
    evictionHard: { "memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%" },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
  };
}

/** kube-proxy in nftables mode, so ClusterIP Services route, on the bridge address only. */
export function kubeProxyConfig(paths: ClusterPaths): Record<string, unknown> {
  return {
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    mode: "nftables",
    clientConnection: { kubeconfig: path.join(paths.kubeconfigs, "kube-proxy.kubeconfig") },
    hostnameOverride: NODE_NAME,
    bindAddress: HOST_ADDRESS,
    healthzBindAddress: "127.0.0.1:10256",
    metricsBindAddress: "127.0.0.1:10249",
    clusterCIDR: POD_CIDR,
    // NodePorts answer on the bridge address only, never on the machine's own interfaces or loopback.
    nodePortAddresses: [`${HOST_ADDRESS}/32`],
    iptables: { localhostNodePorts: false },
    // Lowering oom_score_adj needs CAP_SYS_RESOURCE.
    oomScoreAdj: 0,
    // Zero leaves the machine's conntrack sysctls alone (the defaults would rewrite nf_conntrack_max and two timeouts).
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
  };
}

export const apiServerUrl = () => `https://${HOST_ADDRESS}:${API_PORT}`;

/** A kubeconfig for one client certificate of the cluster's CA. */
export function kubeconfig(paths: ClusterPaths, user: string, certificate: string): string {
  return YAML.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "sandbox", cluster: { server: apiServerUrl(), "certificate-authority": path.join(paths.pki, "ca.crt") } }],
    users: [{ name: user, user: { "client-certificate": path.join(paths.pki, `${certificate}.crt`), "client-key": path.join(paths.pki, `${certificate}.key`) } }],
    contexts: [{ name: "sandbox", context: { cluster: "sandbox", user } }],
    "current-context": "sandbox",
  });
}

export const COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.14.7";

/**
 * CoreDNS answering cluster.local (and the reverse zones) from the API, as a cluster's DNS add-on does, with no
 * `forward`: a name outside the cluster gets no answer from anywhere. It listens on 1053 as a non-root user without
 * capabilities (containerd 1.6 grants no ambient ones, so port 53 is out of reach); the Service maps 53 to it.
 */
/** Binds the ClusterRole of that name to a service account (the name and namespace in `serviceAccount`). */
export function clusterRoleBinding(name: string, serviceAccount: { name: string; namespace: string }): Record<string, unknown> {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
    subjects: [{ kind: "ServiceAccount", ...serviceAccount }],
  };
}

export function corednsObjects(): Record<string, unknown>[] {
  const labels = { "k8s-app": "kube-dns" };
  const metadata = { name: "coredns", namespace: "kube-system" };
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "system:coredns" },
      rules: [
        { apiGroups: [""], resources: ["endpoints", "services", "pods", "namespaces"], verbs: ["list", "watch"] },
        { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
      ],
    },
    clusterRoleBinding("system:coredns", metadata),
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata,
      data: {
        Corefile: [
          ".:1053 {",
          "    errors",
          "    health :8080",
          "    ready :8181",
          `    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {`,
          "        pods insecure",
          // Short: a headless Service's records appear as soon as its pods are Ready, and a miss is not kept long.
          "        ttl 5",
          "    }",
          "    cache 5",
          "}",
          "",
        ].join("\n"),
      },
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { ...metadata, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: "coredns",
            priorityClassName: "system-cluster-critical",
            // Its resolver would be itself; it forwards nowhere, so it never reads it.
            dnsPolicy: "Default",
            containers: [
              {
                name: "coredns",
                image: COREDNS_IMAGE,
                imagePullPolicy: "IfNotPresent",
                args: ["-conf", "/etc/coredns/Corefile"],
                ports: [
                  { name: "dns", containerPort: 1053, protocol: "UDP" },
                  { name: "dns-tcp", containerPort: 1053, protocol: "TCP" },
                ],
                resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } },
                securityContext: {
                  runAsUser: 65532,
                  runAsNonRoot: true,
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ["ALL"] },
                  seccompProfile: { type: "RuntimeDefault" },
                },
                readinessProbe: { httpGet: { path: "/ready", port: 8181 }, periodSeconds: 2 },
                livenessProbe: { httpGet: { path: "/health", port: 8080 }, periodSeconds: 10 },
                volumeMounts: [{ name: "config", mountPath: "/etc/coredns", readOnly: true }],
              },
            ],
            volumes: [{ name: "config", configMap: { name: "coredns" } }],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "kube-dns", namespace: "kube-system", labels },
      spec: {
        clusterIP: DNS_SERVICE_IP,
        selector: labels,
        ports: [
          { name: "dns", port: 53, targetPort: 1053, protocol: "UDP" },
          { name: "dns-tcp", port: 53, targetPort: 1053, protocol: "TCP" },
        ],
      },
    },
  ];
}

/** The default StorageClass: volumes made beforehand (localVolume), bound when their pod is scheduled. */
export const STORAGE_CLASS = "sandbox-local";

export function storageClass(): Record<string, unknown> {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name: STORAGE_CLASS, annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
    provisioner: "kubernetes.io/no-provisioner",
    volumeBindingMode: "WaitForFirstConsumer",
    reclaimPolicy: "Delete",
  };
}

/** A local PersistentVolume on the node, backed by a directory of the data directory. */
export function localVolume(name: string, dir: string, size: string): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name },
    spec: {
      capacity: { storage: size },
      accessModes: ["ReadWriteOnce"],
      persistentVolumeReclaimPolicy: "Retain",
      storageClassName: STORAGE_CLASS,
      local: { path: dir },
      nodeAffinity: {
        required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [NODE_NAME] }] }] },
      },
    },
  };
}
