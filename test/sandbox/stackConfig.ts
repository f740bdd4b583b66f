// The sandbox stack's configuration, from one source for both ways it runs: the committed Pulumi.sandbox.yaml plus
// the values each boot makes anew (host key, keys, ports, mirror URLs). The e2e tests and `make sandbox` hand the
// per-boot values to the real CLI (`pulumi config set --path`) and run it against the sandbox cluster; the system
// tests apply the same values to the same file's config and run the program under the mocks harness.
import * as fs from "node:fs";
import * as YAML from "yaml";
import { PROJECT } from "../../lib/project";
import { DEFAULT_THANOS_VERSION, parseThanosVersion } from "../../lib/thanosVersion";
import { repoPath } from "../repo";

/** Keys of Pulumi.<stack>.yaml's `config:` without the project prefix, as `pulumi config set --path` takes them. */
export type ConfigValues = Record<string, string>;

/** The stack configuration without the project prefix, values as structured data (what runProgram takes). */
export type RawStackConfig = Record<string, unknown>;

/** The config keys stored encrypted. */
export const SANDBOX_SECRET_KEYS = ["sshPrivateKey", "objstoreSecretKey"];

/** What a boot of the sandbox makes anew, and so is not in the committed file. */
export interface SandboxBootValues {
  /** The VM: its address and pinned ed25519 host key. */
  vmAddress: string;
  vmHostKey: string;
  /**
   * Only when the VM shares the host's network (the system tests): its services keep to its loopback address, so
   * Prometheus' URL and the sidecar's bind address name it. On the cluster's network the committed file's defaults
   * apply, as on a real VM.
   */
  vmLoopback?: { prometheusUrl: string; bindAddress: string };
  /** The OpenSSH private key the VM authorizes for root. */
  sshPrivateKey: string;
  /** MinIO's host:port and credentials. */
  objstoreEndpoint: string;
  objstoreAccessKey: string;
  objstoreSecretKey: string;
  /** The release mirror's URL templates. */
  thanosUrlTemplate: string;
  thanosSha256sumsUrlTemplate: string;
}

/** The per-boot values as `--path` keys: plain ones, and the secrets (set with `--secret`, value on stdin). */
export function bootConfig(values: SandboxBootValues): { plain: ConfigValues; secrets: ConfigValues } {
  return {
    plain: {
      "vms[0].host": values.vmAddress,
      "vms[0].hostKey": values.vmHostKey,
      ...(values.vmLoopback && {
        "vms[0].prometheusUrl": values.vmLoopback.prometheusUrl,
        "vms[0].bindAddress": values.vmLoopback.bindAddress,
      }),
      "objstore.endpoint": values.objstoreEndpoint,
      "objstore.accessKey": values.objstoreAccessKey,
      "thanosDownload.urlTemplate": values.thanosUrlTemplate,
      "thanosDownload.sha256sumsUrlTemplate": values.thanosSha256sumsUrlTemplate,
    },
    secrets: { sshPrivateKey: values.sshPrivateKey, objstoreSecretKey: values.objstoreSecretKey },
  };
}

/** The committed Pulumi.<stack>.yaml's config, keys without the project prefix. */
export function committedConfig(stack = "sandbox"): RawStackConfig {
  const file = repoPath(`Pulumi.${stack}.yaml`);
  const { config } = YAML.parse(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
  return Object.fromEntries(
    Object.entries(config)
      .filter(([key]) => key.startsWith(`${PROJECT}:`))
      .map(([key, value]) => [key.slice(PROJECT.length + 1), value]),
  );
}

/** Sets `a.b[0].c`-style keys to strings, as `pulumi config set --path --plaintext` does, on a copy. */
export function withPathValues(config: RawStackConfig, values: ConfigValues): RawStackConfig {
  const copy = structuredClone(config);
  for (const [key, value] of Object.entries(values)) {
    const parts = key.split(/\.|\[(\d+)\]/).filter((part) => part !== undefined && part !== "");
    let node = copy as Record<string, unknown>;
    parts.forEach((part, index) => {
      if (index === parts.length - 1) {
        node[part] = value;
        return;
      }
      node[part] ??= /^\d+$/.test(parts[index + 1]) ? [] : {};
      node = node[part] as Record<string, unknown>;
    });
  }
  return copy;
}

/** The sandbox stack's config for a boot, as the CLI would assemble it: the committed file plus the boot's values. */
export function sandboxStackConfig(values: SandboxBootValues): RawStackConfig {
  const { plain, secrets } = bootConfig(values);
  return { ...withPathValues(committedConfig(), plain), ...secrets };
}

/** The Thanos version the committed file names (or the stack's default), normalised as the schema does it. */
export function committedThanosVersion(): string {
  const text = (committedConfig().thanosVersion as string | undefined) ?? DEFAULT_THANOS_VERSION;
  const version = parseThanosVersion(text);
  if (!version) throw new Error(`Pulumi.sandbox.yaml: not a Thanos version: ${text}`);
  return version.text;
}
