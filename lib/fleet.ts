/**
 * Rules across the VMs of a stack: no two Prometheus servers may share an external label set (the compactor would
 * see one stream of overlapping blocks and halt, the querier only warns), HA replicas (the same labels but for the
 * replica labels) belong to one haGroup, and the members of an haGroup change one after another. Plain functions,
 * used at preview on the labels config states (configurePrometheus) and during `up` on those read from each VM.
 */
import { parse } from "yaml";
import { parseDuration } from "./duration";

export interface FleetMember {
  /** Index in vms[] and name, for the messages. */
  index: number;
  name: string;
  haGroup?: string;
  labels: Readonly<Record<string, string>>;
}

/** Labels as PromQL writes them: {cluster="a", region="eu"}, sorted by name. */
export function formatLabels(labels: Readonly<Record<string, string>>): string {
  const names = Object.keys(labels).sort();
  return `{${names.map((name) => `${name}=${JSON.stringify(labels[name])}`).join(", ")}}`;
}

const withoutReplicaLabels = (labels: Readonly<Record<string, string>>, replicaLabels: readonly string[]) =>
  Object.fromEntries(Object.entries(labels).filter(([name]) => !replicaLabels.includes(name)));

/**
 * The problems of a fleet's label sets, one line each, naming both VMs and the labels: identical sets, and HA
 * replicas outside one haGroup. `where(member)` is the key path a problem is reported at; `source` says where the
 * labels were found ("configurePrometheus sets" or "its Prometheus reports").
 */
export function fleetLabelProblems(
  members: readonly FleetMember[],
  replicaLabels: readonly string[],
  where: (member: FleetMember) => string,
  source: string,
): string[] {
  const problems: string[] = [];
  const seen = new Map<string, FleetMember>();
  const replicas = new Map<string, FleetMember>();
  for (const member of members) {
    const full = formatLabels(member.labels);
    const twin = seen.get(full);
    if (twin) {
      problems.push(
        `${where(member)}: ${member.name}: ${source} the external labels ${full}, as does vms[${twin.index}] (${twin.name}); ` +
          `each Prometheus needs its own set, or both upload to one block stream that the compactor halts on. ` +
          `Fix: give each its own labels; HA replicas differ in a replica label (${replicaLabels.join(", ")})`,
      );
      continue;
    }
    seen.set(full, member);
    const shared = formatLabels(withoutReplicaLabels(member.labels, replicaLabels));
    const replica = replicas.get(shared);
    if (replica && (replica.haGroup === undefined || replica.haGroup !== member.haGroup)) {
      problems.push(
        `${where(member)}: ${member.name} is an HA replica of vms[${replica.index}] (${replica.name}): ${source} ${full}, ` +
          `the same labels but for ${replicaLabels.join(", ")}. Fix: give both the same haGroup, so that they change ` +
          `one after another and the pair never goes away from the global view`,
      );
    }
    if (!replica) replicas.set(shared, member);
  }
  return problems;
}

/** For each VM, the VM whose change it waits for: the one before it in its haGroup (config order), if any. */
export function rolloutPredecessors(vms: readonly { haGroup?: string }[]): (number | undefined)[] {
  const last = new Map<string, number>();
  return vms.map((vm, index) => {
    if (vm.haGroup === undefined) return undefined;
    const previous = last.get(vm.haGroup);
    last.set(vm.haGroup, index);
    return previous;
  });
}

/** The line external-labels.sh prints: "thanos-global-view: vm <name>: external labels: <JSON-escaped YAML>". */
const REPORT = /^thanos-global-view: vm [^:]+: external labels: (.*)$/m;

/** The external labels in the output of external-labels.sh; throws when the output holds none. */
export function parseExternalLabels(stdout: string): Record<string, string> {
  const block = REPORT.exec(stdout)?.[1];
  if (block === undefined) throw new Error(`no external labels in the output of the label read: ${JSON.stringify(stdout.slice(0, 200))}`);
  const yaml = JSON.parse(`"${block}"`) as string;
  const labels = parse(yaml) as Record<string, unknown> | null;
  if (labels === null || typeof labels !== "object" || Array.isArray(labels)) throw new Error(`external labels are not a map: ${yaml}`);
  return Object.fromEntries(Object.entries(labels).map(([name, value]) => [name, String(value)]));
}

/**
 * How long a replica's restarted sidecar stays ready before the next replica of its haGroup may restart: the
 * querier checks its endpoints once per --endpoint.info-timeout (a Prometheus duration such as 30s), and one that
 * failed a check is used again only after the next; plus 5 s for gRPC to reconnect.
 */
export function settleSeconds(infoTimeout: string): number {
  return Math.ceil(parseDuration(infoTimeout) / 1000) + 5;
}
