/** The query frontend's command line, as a plain function of typed input. Every flag exists in Thanos 0.34.1 and 0.42.4. */
import { stringify } from "yaml";
import { goDuration } from "./duration";

export interface ResponseCache {
  /** e.g. 256MB (parsed by go-humanize: MB = 10^6 bytes, MiB = 2^20). */
  maxSize: string;
  /** Milliseconds a cached response stays valid; 0 keeps it until evicted. */
  validity: number;
}

export interface QueryFrontendArgsInput {
  logLevel: string;
  httpAddress: string;
  /** The querier's HTTP API. */
  downstreamUrl: string;
  /** Milliseconds: range queries are split into parts of this length, run in parallel and cached part by part. */
  splitInterval: number;
  cache: ResponseCache;
}

/**
 * The IN-MEMORY response cache (pkg/queryfrontend/config.go `InMemoryResponseCacheConfig`). Thanos reads the `config`
 * part leniently, so a misspelt key would be dropped in silence: the keys here are exactly the struct's.
 */
export function responseCacheConfig(cache: ResponseCache): string {
  return stringify({ type: "IN-MEMORY", config: { max_size: cache.maxSize, max_size_items: 0, validity: goDuration(cache.validity) } }, { lineWidth: 0 });
}

export function queryFrontendArgs(input: QueryFrontendArgsInput): string[] {
  return [
    "query-frontend",
    `--log.level=${input.logLevel}`,
    `--http-address=${input.httpAddress}`,
    `--query-frontend.downstream-url=${input.downstreamUrl}`,
    `--query-range.split-interval=${goDuration(input.splitInterval)}`,
    `--query-range.response-cache-config=${responseCacheConfig(input.cache)}`,
  ];
}
