// mTLS between the real querier and a real VM sidecar, with certificates made by openssl as the README says: the
// VmSidecar component's install (TLS files in its stdin payload, --grpc-server-tls-* in its unit) over SSH on the
// sandbox VM, the querier with the very args the Querier component registers (its client certificate read from the
// files of the TLS Secret it registers). 0.42.4: per-endpoint TLS for the VM in the sd-config beside the plain
// in-cluster stand-ins, in one querier; controls without a client certificate and trusting another CA; certificate
// rotation. 0.34.1: global client TLS. Needs root; its own VM address (127.0.1.20).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { after, before, test } from "node:test";
import { UNIT_NAME, UNIT_PATH } from "../../lib/vm/paths";
import { issue, makeCa, type Certificate } from "../sandbox/certificates";
import { startGlobalViewSandbox, VM_CLUSTER, type GlobalViewSandbox, type VmChange, type VmCommandResult } from "../sandbox/globalView";
import { runCommand } from "../harness/command";
import { waitFor } from "../sandbox/process";
import { instantQuery, queryStores, type HostThanos, type StoreStatus } from "../sandbox/thanos";

const VM_ADDRESS = "127.0.1.20";
const OLD_VERSION = "0.34.1";

let sandbox: GlobalViewSandbox;
let dir = "";
let ca: Certificate;
let sidecar: Certificate;
let querierCert: Certificate;
/** Observed errors of the controls, printed at the end for the record. */
const observed: string[] = [];

before(async () => {
  sandbox = await startGlobalViewSandbox({ vmAddress: VM_ADDRESS, extraThanosVersions: [OLD_VERSION], log: (line) => console.log(`sandbox: ${line}`) });
  dir = path.join(sandbox.runDir, "certificates");
  ca = await makeCa(dir, "ca");
  sidecar = await issue(dir, ca, "sidecar", { server: [`IP:${VM_ADDRESS}`] });
  querierCert = await issue(dir, ca, "querier", "client");
});

after(async () => {
  console.log(`observed:\n${observed.join("\n")}`);
  await sandbox?.stop();
});

const report = (result: VmCommandResult) => `${result.name} exited ${result.code}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;

function tlsChange(server: Certificate, extra: VmChange = {}): VmChange {
  return {
    ...extra,
    stack: {
      ...extra.stack,
      tls: { caCert: ca.cert, sidecarCert: server.cert, sidecarKey: server.key, querierCert: querierCert.cert, querierKey: querierCert.key },
    },
  };
}

/** Waits until the querier lists the store at `address` healthy, with its labels. */
function healthyStore(querier: HostThanos, address: string): Promise<StoreStatus> {
  return waitFor(
    `${address} healthy in the querier's stores`,
    async () => (await queryStores(querier.httpUrl)).find((store) => store.name === address && store.lastError === null && store.labelSets.length > 0),
    90_000,
  );
}

/**
 * Waits until the querier has given up on `address` (its log says why: the line is returned) while the plain
 * in-cluster stand-ins are healthy in the same querier; the address is never healthy meanwhile.
 */
async function refusedStore(querier: HostThanos, address: string): Promise<string> {
  const line = await waitFor(
    `the querier's failed update of ${address}`,
    () => Promise.resolve(fs.readFileSync(querier.process.logFile, "utf8").split("\n").find((entry) => entry.includes("update of endpoint failed") && entry.includes(address))),
    90_000,
  );
  for (const k8s of sandbox.k8sSidecars) await healthyStore(querier, k8s.grpcAddress);
  const stores = await queryStores(querier.httpUrl);
  assert.ok(!stores.some((store) => store.name === address && store.lastError === null), JSON.stringify(stores));
  return line;
}

/** The sd-config of a querier command line, changed, back as a command line. */
function withSdConfig(args: readonly string[], change: (endpoints: Record<string, any>[]) => void): string[] {
  return args.map((arg) => {
    if (!arg.startsWith("--endpoint.sd-config=")) return arg;
    const config = YAML.parse(arg.slice("--endpoint.sd-config=".length)) as { endpoints: Record<string, any>[] };
    change(config.endpoints);
    return `--endpoint.sd-config=${YAML.stringify(config, { lineWidth: 0 })}`;
  });
}

/** The SHA-256 fingerprint of the certificate the VM's sidecar serves on its gRPC port. */
async function servedFingerprint(): Promise<string> {
  const script = `openssl s_client -connect ${sandbox.vmGrpcAddress} -CAfile ca.crt -cert querier.crt -key querier.key </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`;
  const result = await runCommand("bash", ["-c", script], { cwd: dir });
  return result.stdout.trim();
}

async function fingerprint(certFile: string): Promise<string> {
  return (await runCommand("openssl", ["x509", "-noout", "-fingerprint", "-sha256", "-in", certFile])).stdout.trim();
}

let querier: HostThanos;

test("0.42.4: the VM sidecar requires the querier's client certificate, the querier dials it with per-endpoint TLS beside plain stand-ins", { timeout: 240_000 }, async () => {
  const install = await sandbox.install(tlsChange(sidecar));
  assert.equal(install.code, 0, report(install));
  const unit = await sandbox.vmShell(`cat ${UNIT_PATH}`);
  assert.match(unit, /--grpc-server-tls-client-ca=\/etc\/thanos-global-view\/tls\/ca\.crt/);

  const args = await sandbox.querierArgs(tlsChange(sidecar), path.join(dir, "querier-secret"));
  assert.ok(!args.includes("--grpc-client-tls-secure"), "0.42 uses per-endpoint TLS, not the global switch");
  // The binary is the judge of the sd-config's keys (it ignores unknown ones): the VM, which serves only TLS, must be
  // healthy in it beside the plain stand-ins.
  querier = await sandbox.startQuerier(args);
  const store = await healthyStore(querier, sandbox.vmGrpcAddress);
  assert.deepEqual(store.labelSets, [{ cluster: VM_CLUSTER }]);
  for (const k8s of sandbox.k8sSidecars) await healthyStore(querier, k8s.grpcAddress);
  const sdConfig = YAML.parse(args.find((arg) => arg.startsWith("--endpoint.sd-config="))!.slice("--endpoint.sd-config=".length)) as {
    endpoints: { address: string; client_config?: { tls_config: Record<string, unknown> } }[];
  };
  assert.ok(sdConfig.endpoints.find((entry) => entry.address === sandbox.vmGrpcAddress)!.client_config?.tls_config.enabled, JSON.stringify(sdConfig));
  assert.ok(sdConfig.endpoints.filter((entry) => entry.address !== sandbox.vmGrpcAddress).every((entry) => entry.client_config === undefined));
  const up = await waitFor("up{cluster=prom_vm} over TLS", async () => {
    const result = await instantQuery(querier.httpUrl, `up{cluster="${VM_CLUSTER}"}`);
    return result.series.length > 0 ? result : undefined;
  });
  assert.equal(up.series[0].value[1], "1");
});

test("control: a querier without a client certificate is refused by the sidecar", { timeout: 180_000 }, async () => {
  const since = new Date();
  const args = withSdConfig(await sandbox.querierArgs(tlsChange(sidecar), path.join(dir, "querier-secret")), (endpoints) => {
    for (const entry of endpoints) {
      if (entry.client_config) {
        delete entry.client_config.tls_config.cert_file;
        delete entry.client_config.tls_config.key_file;
      }
    }
  });
  const control = await sandbox.startQuerier(args, "querier-no-client-cert");
  try {
    const line = await refusedStore(control, sandbox.vmGrpcAddress);
    observed.push(`no client certificate, querier log: ${line}`);
    // The sidecar ends the handshake, which the querier sees as a broken connection.
    assert.match(line, /broken pipe|certificate required|bad certificate|handshake|EOF/i);
    const journal = await sandbox.vmJournal({ unit: UNIT_NAME, since });
    const lines = journal.split("\n").filter((entry) => /tls|certificate|handshake/i.test(entry));
    observed.push(`no client certificate, sidecar journal: ${lines.slice(0, 3).join(" | ") || "(no line about it)"}`);
  } finally {
    await control.stop();
  }
});

test("control: a querier trusting another CA (with a client certificate of that CA) is refused", { timeout: 180_000 }, async () => {
  const otherDir = path.join(dir, "other");
  const otherCa = await makeCa(otherDir, "other-ca");
  const otherClient = await issue(otherDir, otherCa, "other-querier", "client");
  const args = withSdConfig(await sandbox.querierArgs(tlsChange(sidecar), path.join(dir, "querier-secret")), (endpoints) => {
    for (const entry of endpoints) {
      if (entry.client_config) {
        Object.assign(entry.client_config.tls_config, { ca_file: otherCa.certFile, cert_file: otherClient.certFile, key_file: otherClient.keyFile });
      }
    }
  });
  const control = await sandbox.startQuerier(args, "querier-other-ca");
  try {
    const line = await refusedStore(control, sandbox.vmGrpcAddress);
    observed.push(`another CA, querier log: ${line}`);
    assert.match(line, /tls: failed to verify certificate: x509: certificate signed by unknown authority/);
  } finally {
    await control.stop();
  }
  // The genuine querier is unaffected.
  await healthyStore(querier, sandbox.vmGrpcAddress);
});

test("rotation: new sidecar certificates in config update the files, restart the sidecar once, and the querier reconnects", { timeout: 240_000 }, async () => {
  const rotated = await issue(dir, ca, "sidecar-2", { server: [`IP:${VM_ADDRESS}`] });
  assert.equal(await servedFingerprint(), await fingerprint(sidecar.certFile));
  const since = new Date();
  const install = await sandbox.install(tlsChange(rotated));
  assert.equal(install.code, 0, report(install));
  assert.match(install.stdout, /changing: \/etc\/thanos-global-view\/tls\/server\.crt, \/etc\/thanos-global-view\/tls\/server\.key\n/);
  const starts = (await sandbox.vmJournal({ unit: UNIT_NAME, since })).split("\n").filter((line) => /Started thanos-sidecar/.test(line));
  assert.equal(starts.length, 1, starts.join("\n"));
  assert.equal(await servedFingerprint(), await fingerprint(rotated.certFile));
  // The running querier (same CA, same client certificate) finds the restarted sidecar again.
  await waitFor("up{cluster=prom_vm} after the rotation", async () => {
    const result = await instantQuery(querier.httpUrl, `up{cluster="${VM_CLUSTER}"}`);
    return result.series.length > 0 && (await queryStores(querier.httpUrl)).some((s) => s.name === sandbox.vmGrpcAddress && s.lastError === null) ? result : undefined;
  }, 90_000);
  await querier.stop();
});

test("0.34.1: global client TLS, every endpoint over TLS", { timeout: 240_000 }, async () => {
  // Before 0.42 client TLS is all or nothing: the VM alone, without the plain in-cluster Service.
  const change = tlsChange(sidecar, { thanosVersion: OLD_VERSION, stack: { kubernetes: { sidecarService: { enabled: false } } } });
  const install = await sandbox.install(change);
  assert.equal(install.code, 0, report(install));
  assert.match(await sandbox.vmShell(`cat ${UNIT_PATH}`), /thanos-0\.34\.1\/thanos/);
  const args = await sandbox.querierArgs(change, path.join(dir, "querier-secret"));
  assert.ok(args.includes("--grpc-client-tls-secure"), args.join(" "));
  assert.ok(args.includes(`--endpoint=${sandbox.vmGrpcAddress}`), args.join(" "));
  const old = await sandbox.startQuerier(args, "querier-0-34", OLD_VERSION);
  try {
    const store = await healthyStore(old, sandbox.vmGrpcAddress);
    assert.deepEqual(store.labelSets, [{ cluster: VM_CLUSTER }]);
    await waitFor("up{cluster=prom_vm} through the 0.34.1 querier", async () => {
      const result = await instantQuery(old.httpUrl, `up{cluster="${VM_CLUSTER}"}`);
      return result.series.length > 0 ? result : undefined;
    });
  } finally {
    await old.stop();
  }
});
