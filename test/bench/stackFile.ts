/** Writes a whole stack configuration at once into a PulumiStack's runtime config file, secrets encrypted. */
import * as fs from "node:fs";
import * as YAML from "yaml";
import { PROJECT } from "../../lib/project";
import type { PulumiStack } from "../sandbox/stack";

/**
 * The config (keys without the project prefix, structured values) as Pulumi.<stack>.yaml holds it, plus the
 * secrets set through the CLI (value on stdin) so that they are encrypted with the stack's passphrase. Much faster
 * than one `pulumi config set --path` per key of 100 VMs.
 */
export async function writeStackConfig(stack: PulumiStack, config: Record<string, unknown>, secrets: Record<string, string>): Promise<void> {
  const file = YAML.parse(fs.readFileSync(stack.configFile, "utf8")) as Record<string, unknown>;
  const plain = Object.fromEntries(
    Object.entries(config)
      .filter(([key]) => !(key in secrets))
      .map(([key, value]) => [`${PROJECT}:${key}`, value]),
  );
  fs.writeFileSync(stack.configFile, YAML.stringify({ ...file, config: plain }));
  for (const [key, value] of Object.entries(secrets)) await stack.setSecret(key, value);
}
