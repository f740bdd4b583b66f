/**
 * Pulumi mocks for the unit tests: records every resource the program registers and runs index.ts with a given
 * stack configuration. Imported before anything that creates resources.
 */
import * as pulumi from "@pulumi/pulumi";
import { asRawConfig, secretKeySet } from "./configs";

export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

export const recorded: RecordedResource[] = [];
/** Outputs of other stacks, by stack name, served to StackReferences. */
export const stackOutputs = new Map<string, Record<string, unknown>>();

void pulumi.runtime.setMocks(
  {
    newResource(args) {
      recorded.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown> });
      if (args.type === "pulumi:pulumi:StackReference") {
        const stack = String(args.inputs.name);
        return { id: stack, state: { name: stack, outputs: stackOutputs.get(stack) ?? {}, secretOutputNames: [] } };
      }
      return { id: `${args.name}-id`, state: args.inputs };
    },
    call(args) {
      return args.inputs;
    },
  },
  "thanos-global-view",
  "test",
  false,
);

/** The value of an Output, once known. */
export function valueOf<T>(output: pulumi.Input<T>): Promise<T> {
  return new Promise((resolve) => pulumi.output(output).apply((value) => resolve(value as T)));
}

export function isSecret(output: pulumi.Input<unknown>): Promise<boolean> {
  return pulumi.isSecret(pulumi.output(output));
}

/** The signature key Pulumi marks secret values with when it hands resource inputs to the mocks. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Whether a recorded input value was registered as a secret. */
export function isSecretInput(value: unknown): boolean {
  return typeof value === "object" && value !== null && SECRET_SIG in value;
}

/** A recorded input value with every secret wrapper taken off. */
export function reveal(value: unknown): any {
  if (Array.isArray(value)) return value.map(reveal);
  if (typeof value !== "object" || value === null) return value;
  if (isSecretInput(value)) return reveal((value as { value: unknown }).value);
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, reveal(inner)]));
}

export const byType = (type: string) => recorded.filter((resource) => resource.type === type);

/** Waits until every registration the program started has reached the mocks. */
export async function settle(): Promise<void> {
  // Registrations chain through promises; a few macrotask turns let every pending one finish.
  for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
}

/** Runs index.ts with the given config (values are JSON-encoded like the CLI does) and returns its exports. */
export async function runProgram(
  config: Record<string, unknown>,
  secretKeys: readonly string[] = [],
): Promise<Record<string, unknown>> {
  recorded.length = 0;
  pulumi.runtime.setAllConfig(asRawConfig(config), [...secretKeySet(secretKeys)]);
  const program = require.resolve("../../index");
  delete require.cache[program];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const exports = require(program) as Record<string, unknown>;
  await settle();
  return exports;
}
