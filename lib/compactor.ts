/** The compactor's command line, as a plain function of typed input. Every flag exists in Thanos 0.34.1 and 0.42.4. */
import { promDuration } from "./duration";

/** How long each resolution is kept in the bucket, in milliseconds; 0 keeps it forever. */
export interface Retention {
  raw: number;
  fiveMinutes: number;
  oneHour: number;
}

export interface CompactorArgsInput {
  logLevel: string;
  httpAddress: string;
  dataDir: string;
  objstoreConfigFile: string;
  retention: Retention;
  /** Off adds `--downsampling.disable`: no 5m and 1h copies, so long ranges read raw blocks. */
  downsampling: boolean;
  /** Milliseconds between a block's deletion mark and its deletion. */
  deleteDelay: number;
  /** Goroutines for compacting groups and for downsampling blocks alike. */
  concurrency: number;
}

export function compactorArgs(input: CompactorArgsInput): string[] {
  return [
    "compact",
    // Keep running: compact, downsample and apply retention every 5 minutes instead of once.
    "--wait",
    `--log.level=${input.logLevel}`,
    `--http-address=${input.httpAddress}`,
    `--data-dir=${input.dataDir}`,
    `--objstore.config-file=${input.objstoreConfigFile}`,
    `--retention.resolution-raw=${promDuration(input.retention.raw)}`,
    `--retention.resolution-5m=${promDuration(input.retention.fiveMinutes)}`,
    `--retention.resolution-1h=${promDuration(input.retention.oneHour)}`,
    `--delete-delay=${promDuration(input.deleteDelay)}`,
    `--compact.concurrency=${input.concurrency}`,
    `--downsample.concurrency=${input.concurrency}`,
    ...(input.downsampling ? [] : ["--downsampling.disable"]),
  ];
}
