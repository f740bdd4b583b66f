// The sandbox cluster's fixed names and addresses. One cluster runs on a machine at a time: these names are how a
// later start finds what an interrupted one left (test/sandbox/clusterHost.ts). 10.244.0.0/16 and 10.96.0.0/16 are
// Kubernetes' customary pod and Service ranges; the sandbox refuses to start if the machine already uses them.

/** The bridge the pods and the VM are attached to; the host's address on it is the node's. */
export const BRIDGE = "tgvbr0";
/** The host's address on the bridge: node IP, API server, kubelet, and the host services pods and the VM reach. */
export const HOST_ADDRESS = "10.244.0.1";
export const POD_CIDR = "10.244.0.0/16";
/** Where pod addresses come from (host-local IPAM); the rest of POD_CIDR holds the host and the VM. */
export const POD_RANGE = { start: "10.244.1.2", end: "10.244.1.254" };
/** The VM's address on the bridge, in its own network namespace. */
export const VM_ADDRESS = "10.244.255.10";
export const VM_NETNS = "tgv-vm";
/** The VM's veth pair: the host end is a port of the bridge, the other end becomes the VM's eth0. */
export const VM_VETH_HOST = "tgvvm0h";
export const VM_VETH_PEER = "tgvvm0c";
export const SERVICE_CIDR = "10.96.0.0/16";
/** The `kubernetes` Service: the API server as pods reach it. */
export const API_SERVICE_IP = "10.96.0.1";
/** The cluster DNS Service (kube-dns): the only resolver pods and the VM are given. */
export const DNS_SERVICE_IP = "10.96.0.10";
export const CLUSTER_DOMAIN = "cluster.local";
export const API_PORT = 6443;
export const KUBELET_PORT = 10250;
export const NODE_NAME = "tgv-node";
/** The kubelet's cgroupRoot, one directory in every cgroup hierarchy: every container runs below it. */
export const CGROUP_ROOT = "thanos-global-view-sandbox";
/** The CNI network's name: the CNI library's cache files in /var/lib/cni are named after it. */
export const CNI_NETWORK = "tgv-sandbox";
/** The nftables table that keeps anything from being forwarded between the bridge and another interface. */
export const GUARD_TABLE = "thanos_global_view_sandbox_guard";
/** The machine-wide record of what a running (or interrupted) cluster changed; see clusterHost.ts. */
export const LEDGER_DIR = "/run/thanos-global-view/cluster";
/**
 * What holds unix sockets lives beside the ledger, not in the run directory: a socket path has at most 107 bytes
 * (containerd refuses over 104), and a checkout may be deep. One cluster runs per machine, so fixed names are free.
 */
export const CONTAINERD_SOCKET = `${LEDGER_DIR}/containerd.sock`;
/** The kubelet's root (its pod-resources and plugin sockets, pod volumes), removed by the cleanup. */
export const KUBELET_ROOT = `${LEDGER_DIR}/kubelet`;

/** Whether `address` is one a sandbox listener may use: loopback, or the host's address on the bridge. */
export function isSandboxListenAddress(address: string): boolean {
  return address === HOST_ADDRESS || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
}
