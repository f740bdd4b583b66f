/** Network addresses as the stack's programs take them: host:port, and the URL a VM probes its sidecar on. */
import { isIP } from "node:net";

/** host:port, with brackets around IPv6 literals ([::1]:10901). */
export function joinHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The address to probe a local listener on: loopback when it listens on every address. */
function localProbeHost(bindAddress: string): string {
  if (bindAddress === "0.0.0.0") return "127.0.0.1";
  if (bindAddress === "::") return "::1";
  return bindAddress;
}

/** The sidecar's readiness URL as seen from the VM itself. */
export function sidecarReadyUrl(bindAddress: string, httpPort: number): string {
  return `http://${joinHostPort(localProbeHost(bindAddress), httpPort)}/-/ready`;
}
