/** The store gateway's command line, as a plain function of typed input. Every flag exists in Thanos 0.34.1 and 0.42.4. */
import { promDuration } from "./duration";

/** The store gateway's StoreAPI port; the headless Service names it grpc for DNS SRV discovery. */
export const STORE_GATEWAY_GRPC_PORT = 10901;

/** A time range one set of store gateways serves: `--min-time`/`--max-time` values (RFC 3339, or relative as -2w). */
export interface TimePartition {
  minTime?: string;
  maxTime?: string;
}

export interface StoreGatewayArgsInput {
  logLevel: string;
  grpcAddress: string;
  httpAddress: string;
  dataDir: string;
  objstoreConfigFile: string;
  /** e.g. 250MB: `--index-cache-size`, the in-memory index cache. */
  indexCacheSize: string;
  /** e.g. 2GB: `--chunk-pool-size`, the most memory held for chunks. */
  chunkPoolSize: string;
  /** The compactor's `--delete-delay`, in milliseconds. */
  compactorDeleteDelay: number;
  partition?: TimePartition;
}

/**
 * Blocks the compactor marked for deletion stay served for half its delete delay (Thanos' own advice, and its
 * defaults: 24h of 48h): long enough for the store gateway to have loaded their replacement, short enough that it has
 * let go of them before the compactor deletes them.
 */
export const ignoreDeletionMarksDelay = (compactorDeleteDelay: number) => promDuration(Math.floor(compactorDeleteDelay / 2));

export function storeGatewayArgs(input: StoreGatewayArgsInput): string[] {
  return [
    "store",
    `--log.level=${input.logLevel}`,
    `--grpc-address=${input.grpcAddress}`,
    `--http-address=${input.httpAddress}`,
    `--data-dir=${input.dataDir}`,
    `--objstore.config-file=${input.objstoreConfigFile}`,
    `--index-cache-size=${input.indexCacheSize}`,
    `--chunk-pool-size=${input.chunkPoolSize}`,
    `--ignore-deletion-marks-delay=${ignoreDeletionMarksDelay(input.compactorDeleteDelay)}`,
    ...(input.partition?.minTime !== undefined ? [`--min-time=${input.partition.minTime}`] : []),
    ...(input.partition?.maxTime !== undefined ? [`--max-time=${input.partition.maxTime}`] : []),
  ];
}
