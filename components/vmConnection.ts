import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { VmConfig } from "../lib/config";

/**
 * The provider dials dialErrorLimit + 1 times, perDialTimeout bounding each TCP connect, with a short backoff (0.1 s,
 * x1.5) between: a VM that drops packets fails after about 6 x 10 s instead of the default 11 x 15 s. A refused port
 * fails within 2 s; a mismatching host key is retried the same way. The SSH handshake has no time limit at all: a
 * host that accepts the TCP connection but never speaks SSH holds `pulumi up` until it is cancelled.
 */
const DIAL_ERROR_LIMIT = 5;
const PER_DIAL_TIMEOUT_SECONDS = 10;

/**
 * SSH to a VM as vm.user (not root: the scripts then run through `sudo -n`, so the user needs passwordless sudo),
 * for every remote resource of the VM. The command provider checks host keys only when given one (vm.hostKey,
 * vm.proxy.hostKey). `host` is vm.host resolved; the private key (also the bastion's) is secret.
 */
export function vmConnection(
  vm: Pick<VmConfig, "port" | "user" | "hostKey" | "proxy">,
  host: pulumi.Input<string>,
  sshPrivateKey: pulumi.Input<string>,
): command.types.input.remote.ConnectionArgs {
  const privateKey = pulumi.secret(sshPrivateKey);
  const limits = { dialErrorLimit: DIAL_ERROR_LIMIT, perDialTimeout: PER_DIAL_TIMEOUT_SECONDS };
  const { proxy } = vm;
  return {
    host,
    port: vm.port,
    user: vm.user,
    privateKey,
    hostKey: vm.hostKey,
    ...limits,
    proxy: proxy && { host: proxy.host, port: proxy.port, user: proxy.user, privateKey, hostKey: proxy.hostKey, ...limits },
  };
}
