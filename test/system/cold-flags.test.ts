// The store gateway, compactor and query frontend flags the components render exist in both Thanos versions the stack
// supports, checked against each real binary's own `--help` (not the docs), and each version's binary starts with
// them and becomes ready against a real MinIO bucket. The args are those the program registers under mocks, with
// only the host adaptations of test/sandbox/coldStorage.ts. Needs the cached Thanos builds (test/build/build-thanos).
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { referenceConfig, REFERENCE_SECRET_KEYS, withAllComponents } from "../harness/configs";
import { renderColdStorage, startComponent, type RenderedColdStorage } from "../sandbox/coldStorage";
import { minioBinary, startMinio, type MinioServer } from "../sandbox/minio";
import { runCommand } from "../harness/command";
import { createRunDir, processesMentioning, ProcessRegistry } from "../sandbox/process";
import { thanosBinary, thanosReleaseDir } from "../sandbox/thanos";

const VERSIONS = ["0.34.1", "0.42.4"];
const registry = new ProcessRegistry();
const runDir = createRunDir("cold-flags");
let minio: MinioServer;
/** Stands in for the querier behind the frontend: from 0.42 the frontend is ready only while its downstream is. */
let downstreamUrl: string;

before(async () => {
  minio = await startMinio({ binary: await minioBinary(), runDir, registry });
  await minio.createBucket("flags");
  const downstream = http.createServer((request, response) => response.writeHead(request.url === "/-/ready" ? 200 : 404).end());
  await new Promise<void>((resolve) => downstream.listen(0, "127.0.0.1", resolve));
  registry.defer("downstream", () => new Promise((resolve) => downstream.close(resolve)));
  downstreamUrl = `http://127.0.0.1:${(downstream.address() as AddressInfo).port}`;
});

after(async () => {
  await registry.stopAll();
  assert.deepEqual(processesMentioning(runDir), [], "a process of this run is still running");
});

/** Every option of every component switched on, one way or the other, across the two configurations. */
function configs(version: string): Record<string, any>[] {
  const base = () => {
    const config = withAllComponents(referenceConfig()) as Record<string, any>;
    config.thanosVersion = version;
    config.vms = [];
    delete config.sshPrivateKey;
    config.objstore = { ...minio.objstoreSettings("flags") };
    return config;
  };
  const partitioned = base();
  partitioned.kubernetes.storeGateway = { enabled: true, timePartitions: [{ minTime: "-2w", maxTime: "2030-01-01T00:00:00Z" }], indexCacheSize: "1GiB", chunkPoolSize: "512MB" };
  partitioned.kubernetes.compactor = { enabled: true, downsampling: false, retention: { raw: "1d" }, deleteDelay: "90m", concurrency: 2 };
  return [base(), partitioned];
}

const REFERENCE_SECRETS = REFERENCE_SECRET_KEYS.filter((key) => key !== "sshPrivateKey");

async function rendered(version: string): Promise<RenderedColdStorage[]> {
  const out: RenderedColdStorage[] = [];
  for (const config of configs(version)) {
    config.objstoreSecretKey = minio.secretKey;
    out.push(await renderColdStorage(config, REFERENCE_SECRETS));
  }
  return out;
}

/** The long flag names a `thanos <command> --help` lists ("--[no-]wait" counts as --wait). */
async function helpFlags(binary: string, command: string): Promise<Set<string>> {
  const result = await runCommand(binary, [command, "--help"]);
  assert.equal(result.code, 0, result.stderr);
  const text = result.stdout + result.stderr;
  return new Set([...text.matchAll(/^\s+(?:-\w, )?--(?:\[no-\])?([a-z0-9][a-z0-9.-]*)/gm)].map((match) => match[1]));
}

const flagNames = (args: readonly string[]) => args.slice(1).map((arg) => /^--([^=]+)/.exec(arg)![1]);

for (const version of VERSIONS) {
  test(`every rendered flag is in Thanos ${version}'s --help, and each component becomes ready with them`, { timeout: 300_000 }, async () => {
    const binary = thanosBinary(await thanosReleaseDir(version));
    const renders = await rendered(version);
    const byCommand: Record<string, string[][]> = {
      store: renders.flatMap((render) => render.storeGateways),
      compact: renders.map((render) => render.compactor),
      "query-frontend": renders.map((render) => render.queryFrontend),
    };
    const checked: string[] = [];
    for (const [command, argLists] of Object.entries(byCommand)) {
      const known = await helpFlags(binary, command);
      assert.ok(known.has("http-address"), `could not read ${command} --help`);
      for (const args of argLists) {
        assert.equal(args[0], command);
        for (const flag of flagNames(args)) {
          assert.ok(known.has(flag), `thanos ${version} ${command} has no --${flag}`);
          checked.push(`${command} --${flag}`);
        }
      }
    }
    console.log(`thanos ${version}: ${new Set(checked).size} distinct flags found in --help: ${[...new Set(checked)].join(", ")}`);

    for (const [index, render] of renders.entries()) {
      const common = { binary, runDir, registry, objstoreYaml: render.objstoreYaml };
      const started = [
        ...(await Promise.all(render.storeGateways.map((args, partition) => startComponent(args, { ...common, name: `store-${version}-${index}-${partition}` })))),
        await startComponent(render.compactor, { ...common, name: `compact-${version}-${index}` }),
        await startComponent(render.queryFrontend, { ...common, name: `frontend-${version}-${index}`, replace: { "query-frontend.downstream-url": downstreamUrl } }),
      ];
      for (const component of started) {
        assert.ok(component.process.running, `${component.name} exited`);
        await component.process.stop();
      }
    }
  });
}
