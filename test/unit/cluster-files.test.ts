/**
 * The sandbox cluster's rendered configuration keeps to its rules without booting anything: every listener on
 * loopback or the bridge address, no route or DNS forwarder off the machine, no registry reachable, and the kubelet
 * and kube-proxy leaving the machine's iptables and conntrack settings alone.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  clusterPaths,
  clusterResolvConf,
  cniConfig,
  containerdConfig,
  corednsObjects,
  kubeletConfig,
  kubeProxyConfig,
  CONTAINERD_ENV,
} from "../sandbox/clusterFiles";
import { DNS_SERVICE_IP, HOST_ADDRESS, isSandboxListenAddress, LEDGER_DIR, POD_CIDR, SERVICE_CIDR } from "../sandbox/clusterNetwork";

const paths = clusterPaths("/srv/run");
const hostOf = (address: string) => address.replace(/:\d+$/, "");

describe("the sandbox cluster's configuration", () => {
  it("keeps its files in its own data directory, and what holds sockets at a short path however deep the checkout", () => {
    const containerd = containerdConfig(paths);
    const settings = [...containerd.matchAll(/^\s*(root|state|address|Root|conf_dir) = "([^"]*)"/gm)].filter((m) => m[2] !== "");
    assert.equal(settings.length, 6, containerd);
    for (const [, key, value] of settings) {
      if (key === "address") assert.ok(value.startsWith(`${LEDGER_DIR}/`), `containerd ${key} = ${value}`);
      else assert.ok(value.startsWith("/srv/run/cluster/"), `containerd ${key} = ${value}`);
    }
    // containerd refuses a unix socket path over 104 bytes; the kubelet's sockets are in its root, 40 bytes deeper.
    const deepPaths = clusterPaths(`/${"d".repeat(200)}/run`);
    for (const [, socket] of containerdConfig(deepPaths).matchAll(/^\s*address = "([^"]+)"/gm)) assert.ok(socket.length <= 104, socket);
    assert.ok(deepPaths.kubeletRoot.length <= 60, deepPaths.kubeletRoot);
    const kubelet = kubeletConfig(paths);
    for (const key of ["resolvConf", "podLogsDir", "tlsCertFile", "tlsPrivateKeyFile"]) assert.match(String(kubelet[key]), /^\/srv\/run\/cluster\//, key);
    assert.match(String((cniConfig(paths).match(/"dataDir": "([^"]+)"/) ?? [])[1]), /^\/srv\/run\/cluster\//);
  });

  it("listens on loopback or the bridge address only", () => {
    const kubelet = kubeletConfig(paths);
    const proxy = kubeProxyConfig(paths);
    const listeners = [
      String(kubelet.address),
      String(kubelet.healthzBindAddress),
      String(proxy.bindAddress),
      hostOf(String(proxy.healthzBindAddress)),
      hostOf(String(proxy.metricsBindAddress)),
      ...(proxy.nodePortAddresses as string[]).map((cidr) => cidr.replace(/\/32$/, "")),
      /stream_server_address = "([^"]+)"/.exec(containerdConfig(paths))![1],
    ];
    for (const address of listeners) assert.ok(isSandboxListenAddress(address), address);
    assert.equal(kubelet.readOnlyPort, 0);
    assert.match(containerdConfig(paths), /\[debug\]\n\s+address = ""\n\n\[metrics\]\n\s+address = ""/);
  });

  it("gives pods no default route, no masquerading and only the cluster DNS", () => {
    const [bridge] = (JSON.parse(cniConfig(paths)) as { plugins: Record<string, any>[] }).plugins;
    assert.equal(bridge.isDefaultGateway, false);
    assert.equal(bridge.ipMasq, false);
    assert.deepEqual(bridge.ipam.routes, [{ dst: POD_CIDR }, { dst: SERVICE_CIDR, gw: HOST_ADDRESS }]);
    assert.equal(clusterResolvConf().match(/^nameserver .*/gm)?.join(), `nameserver ${DNS_SERVICE_IP}`);
    assert.deepEqual(kubeletConfig(paths).clusterDNS, [DNS_SERVICE_IP]);
  });

  it("runs CoreDNS without any upstream to forward to", () => {
    const configMap = corednsObjects().find((object) => object.kind === "ConfigMap") as { data: { Corefile: string } };
    assert.doesNotMatch(configMap.data.Corefile, /forward|proxy|\/etc\/resolv\.conf/);
    assert.match(configMap.data.Corefile, /kubernetes cluster\.local in-addr\.arpa ip6\.arpa/);
  });

  it("sends any image pull to a closed loopback port, through which containerd resolves no name", () => {
    assert.deepEqual(CONTAINERD_ENV, { HTTPS_PROXY: "http://127.0.0.1:9", HTTP_PROXY: "http://127.0.0.1:9", NO_PROXY: "" });
  });

  it("leaves the machine's iptables chains and conntrack settings alone", () => {
    assert.equal(kubeletConfig(paths).makeIPTablesUtilChains, false);
    assert.deepEqual(kubeProxyConfig(paths).conntrack, { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" });
  });
});
