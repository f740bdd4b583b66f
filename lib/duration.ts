/**
 * Prometheus-style durations ("30s", "2h", "1d12h") as config takes them, and the two spellings Thanos' flags parse:
 * prometheus/common's model.Duration (retention, delete delays: knows d, w and y) and Go's time.Duration (split
 * intervals, cache validity: h is its largest unit). Rendering one unit only keeps older parsers happy too.
 */

/** One or more <integer><unit> terms, e.g. 90s, 1h30m; units ms, s, m, h, d, w, y (y = 365d, as Prometheus has it). */
export const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
};

/** Milliseconds of a duration matching DURATION; throws on anything else. */
export function parseDuration(text: string): number {
  if (!DURATION.test(text)) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) total += Number(amount) * UNIT_MS[unit];
  return total;
}

/** The largest single unit of `units` that states `milliseconds` exactly. */
function inOneUnit(milliseconds: number, units: readonly string[]): string {
  if (!Number.isInteger(milliseconds) || milliseconds < 0) throw new Error(`not a whole non-negative duration: ${milliseconds} ms`);
  const unit = units.find((candidate) => milliseconds % UNIT_MS[candidate] === 0) ?? "ms";
  return `${milliseconds / UNIT_MS[unit]}${unit}`;
}

/** For model.Duration flags: "30d", "40h", "7500ms"; zero is "0s". */
export const promDuration = (milliseconds: number) => (milliseconds === 0 ? "0s" : inOneUnit(milliseconds, ["d", "h", "m", "s"]));

/** For time.Duration flags and YAML fields: hours at most, e.g. "24h", "90s"; zero is "0s". */
export const goDuration = (milliseconds: number) => (milliseconds === 0 ? "0s" : inOneUnit(milliseconds, ["h", "m", "s"]));

export const HOUR_MS = UNIT_MS.h;
export const DAY_MS = UNIT_MS.d;
