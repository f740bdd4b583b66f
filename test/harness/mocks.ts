/**
 * The one Pulumi mocks harness: runs index.ts with a given stack configuration and records every resource it
 * registers. The unit tests read the records; the system tests and the sandbox take the very commands and container
 * args the components register and run them against real programs; the bench times the registrations.
 */
import { performance } from "node:perf_hooks";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT } from "../../lib/project";
import { asRawConfig, secretKeySet } from "./configs";

export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  /** The names of the resources it depends on (dependsOn and its inputs' resources), as the engine would get them. */
  dependencies: string[];
  /** performance.now() when the mocks saw it. */
  registeredAt: number;
}

export const recorded: RecordedResource[] = [];
/** Outputs of other stacks, by stack name, served to StackReferences. */
export const stackOutputs = new Map<string, Record<string, unknown>>();
/**
 * What each VM's Prometheus reports as its external labels, by VM name, when the program reads them (the
 * `<name>-external-labels` command's stdout); a VM not listed reports {cluster: <its name>}.
 */
export const vmExternalLabels = new Map<string, Record<string, string>>();

const LABEL_READ = /-external-labels$/;

/** The stdout of external-labels.sh on a VM whose Prometheus has these labels. */
function labelReport(vm: string, labels: Record<string, string>): string {
  const yaml = Object.entries(labels).map(([name, value]) => `    ${name}: ${JSON.stringify(value)}`).join("\n");
  return `thanos-global-view: vm ${vm}: external labels: ${JSON.stringify(yaml).slice(1, -1)}\n`;
}

const mocks: pulumi.runtime.Mocks = {
  newResource(args) {
    recorded.push({
      type: args.type,
      name: args.name,
      inputs: args.inputs as Record<string, unknown>,
      dependencies: pendingDependencies.get(args.name) ?? [],
      registeredAt: performance.now(),
    });
    if (args.type === "pulumi:pulumi:StackReference") {
      const stack = String(args.inputs.name);
      return { id: stack, state: { name: stack, outputs: stackOutputs.get(stack) ?? {}, secretOutputNames: [] } };
    }
    if (args.type === "command:remote:Command" && LABEL_READ.test(args.name)) {
      const vm = args.name.replace(LABEL_READ, "");
      return { id: `${args.name}-id`, state: { ...args.inputs, stdout: labelReport(vm, vmExternalLabels.get(vm) ?? { cluster: vm }), stderr: "" } };
    }
    return { id: `${args.name}-id`, state: args.inputs };
  },
  call(args) {
    return args.inputs;
  },
};

/** Dependencies of the registration under way, by resource name: the mocks API does not pass them on. */
const pendingDependencies = new Map<string, string[]>();

interface RegisterRequest {
  getName(): string;
  getDependenciesList(): string[];
}

/** Sets the mocks, then has the mock monitor note each request's dependencies before the mocks see it. */
async function installMocks(stack: string, preview: boolean): Promise<void> {
  await pulumi.runtime.setMocks(mocks, PROJECT, stack, preview);
  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(request: RegisterRequest, callback: unknown): Promise<void> };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (request, callback) => {
    pendingDependencies.set(request.getName(), request.getDependenciesList().map((urn) => urn.split("::").pop()!));
    return register(request, callback);
  };
}

// Components and resources created directly by a test (not through runProgram) need mocks in place too.
void installMocks("test", false);

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

/** Waits until every registration the program started has reached the mocks (no new one for several turns). */
export async function settle(): Promise<void> {
  // Registrations chain through promises and macrotasks; quiet for 20 turns in a row means done.
  for (let quiet = 0, seen = -1; quiet < 20; quiet = recorded.length === seen ? quiet + 1 : 0) {
    seen = recorded.length;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export interface RunOptions {
  /** The stack name the program sees (pulumi.getStack()); default "test". */
  stack?: string;
  /** Run as `pulumi preview` would; default false (as `pulumi up`). */
  preview?: boolean;
}

/** Runs index.ts with the given config (values are JSON-encoded like the CLI does) and returns its exports. */
export async function runProgram(
  config: Record<string, unknown>,
  secretKeys: readonly string[] = [],
  options: RunOptions = {},
): Promise<Record<string, unknown>> {
  await installMocks(options.stack ?? "test", options.preview ?? false);
  recorded.length = 0;
  pulumi.runtime.setAllConfig(asRawConfig(config), [...secretKeySet(secretKeys)]);
  const program = require.resolve("../../index");
  delete require.cache[program];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const exports = require(program) as Record<string, unknown>;
  await settle();
  return exports;
}
