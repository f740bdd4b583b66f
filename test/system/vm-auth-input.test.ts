// The VM side with what real fleets bring: a Prometheus behind its own --web.config.file basic auth, reached with
// the stack's prometheusCredentials (the preflight and the label read with curl --config from stdin, the sidecar
// with --prometheus.http-client-file), and odd but legal values, a tsdbPath with a space, a quote and $(...) and a
// prometheusUrl with a quote, installed for real: nothing but the intended command runs. The commands, stdin and
// querier args are the very ones the program registers. Needs root; its own VM address (127.0.1.21).
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { runCommand } from "../harness/command";
import { parseExternalLabels } from "../../lib/fleet";
import { UNIT_NAME, UNIT_PATH } from "../../lib/vm/paths";
import { startGlobalViewSandbox, VM_CLUSTER, type GlobalViewSandbox, type VmChange, type VmCommandResult } from "../sandbox/globalView";
import { httpRequest } from "../sandbox/ports";
import { waitFor } from "../sandbox/process";
import { instantQuery, queryStores, type HostThanos } from "../sandbox/thanos";

const VM_ADDRESS = "127.0.1.21";
const USER = "thanos";
const PASSWORD = "pr0m-PASSWORD-never-in-plain-text";
const WEB_CONFIG = "/etc/prometheus/web.yml";

let sandbox: GlobalViewSandbox;
let querier: HostThanos | undefined;

before(async () => {
  sandbox = await startGlobalViewSandbox({ vmAddress: VM_ADDRESS, log: (line) => console.log(`sandbox: ${line}`) });
});

after(async () => {
  await sandbox?.stop();
});

const report = (result: VmCommandResult) => `${result.name} exited ${result.code}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;
const withCredentials: VmChange = { stack: { prometheusCredentials: { "prom-vm": { username: USER, password: PASSWORD } } } };

/** Waits until the VM's Prometheus answers `path` (under `base`) with `status` for the given Authorization. */
function prometheusAnswers(base: string, status: number, authorization?: string): Promise<true> {
  return waitFor(`${base}/-/ready answering ${status}`, async () => {
    const response = await httpRequest({ url: `${base}/-/ready`, headers: authorization ? { authorization } : {}, timeoutMs: 2_000 });
    return response.status === status ? true : undefined;
  });
}

/** The querier with the stack's registered args, and the VM sidecar healthy in it with its labels. */
async function vmStoreHealthy(): Promise<void> {
  await querier?.stop();
  querier = await sandbox.startQuerier(await sandbox.querierArgs());
  const started = querier;
  await waitFor("the VM sidecar healthy in the querier", async () => {
    const store = (await queryStores(started.httpUrl)).find((candidate) => candidate.name === sandbox.vmGrpcAddress);
    return store?.lastError === null && store.labelSets.length > 0 ? store : undefined;
  }, 90_000);
  const up = await waitFor("up{cluster=prom_vm} through the querier", async () => {
    const result = await instantQuery(started.httpUrl, `up{cluster="${VM_CLUSTER}"}`);
    return result.series.length > 0 ? result : undefined;
  });
  // Its value is Prometheus' own scrape of itself, which the auth and the path prefix break (0): not the sidecar's.
  assert.equal(up.series[0].metric.cluster, VM_CLUSTER);
}

test("Prometheus behind basic auth: refused without credentials, preflight and label read say so; with them the sidecar is ready", { timeout: 300_000 }, async () => {
  // The VM's Prometheus behind its own --web.config.file basic auth (a bcrypt hash, made with the host's crypt).
  const hash = await runCommand("python3", ["-W", "ignore", "-c", "import crypt,sys; print(crypt.crypt(sys.stdin.read(), crypt.mksalt(crypt.METHOD_BLOWFISH)))"], { stdin: PASSWORD });
  assert.equal(hash.code, 0, hash.stderr);
  await sandbox.vmShell(`printf 'basic_auth_users:\\n  ${USER}: %s\\n' '${hash.stdout.trim()}' > ${WEB_CONFIG} && chmod 0644 ${WEB_CONFIG}`);
  await sandbox.reconfigureVmPrometheus({ extraArgs: [`--web.config.file=${WEB_CONFIG}`] }, { waitReady: false });
  await prometheusAnswers(sandbox.vm.prometheusUrl, 200, basic);
  await prometheusAnswers(sandbox.vm.prometheusUrl, 401);

  const refusedLabels = await sandbox.readExternalLabels();
  assert.equal(refusedLabels.code, 1, report(refusedLabels));
  assert.match(refusedLabels.stderr, /Prometheus does not answer at http:\/\/127\.0\.1\.21:9090\/api\/v1\/status\/config \(curl: \(22\) The requested URL returned error: 401\): check prometheusUrl, its credentials/);
  const refused = await sandbox.install();
  assert.equal(refused.code, 1, report(refused));
  assert.match(refused.stderr, /thanos-global-view: vm prom-vm: Prometheus does not answer at http:\/\/127\.0\.1\.21:9090 \(curl: \(22\) The requested URL returned error: 401\)/);
  assert.match((await sandbox.runOnVm("shell", `systemctl is-active ${UNIT_NAME}`)).stdout, /inactive|unknown/);

  const labels = await sandbox.readExternalLabels(withCredentials);
  assert.equal(labels.code, 0, report(labels));
  assert.deepEqual(parseExternalLabels(labels.stdout), { cluster: VM_CLUSTER });
  const install = await sandbox.install(withCredentials);
  assert.equal(install.code, 0, report(install));
  assert.match(await sandbox.vmShell(`cat ${UNIT_PATH}`), /--prometheus\.http-client-file=\/etc\/thanos-global-view\/prometheus-http\.yml/);
  assert.equal((await sandbox.vmShell("stat -c '%U %a' /etc/thanos-global-view/prometheus-http.yml")).trim(), "prometheus 400");
  // The sidecar reached Prometheus (it is not ready before it has read Prometheus' external labels) and serves them.
  await vmStoreHealthy();

  const sent = sandbox.commandsSent().join("\n");
  assert.ok(!sent.includes(PASSWORD), "the password is in a command string");
  assert.ok(!(await sandbox.vmJournal()).includes(PASSWORD), "the password is in the VM's journal");
});

test("odd but legal values: a tsdbPath with a space, a quote and $(...), a prometheusUrl with a quote; only the intended command runs", { timeout: 300_000 }, async () => {
  // Prometheus serves under a path with a quote, without auth now; the sidecar gets an empty TSDB directory of its
  // own with an odd name (it still serves queries: those go through Prometheus' API).
  const tsdbPath = "/var/lib/prom data/it's $(touch thanos-pwned)";
  const prometheusUrl = `http://${VM_ADDRESS}:9090/it's`;
  // systemd splits $ARGS of /etc/default/prometheus with quote removal, so the URL goes in a drop-in, quoted.
  const dropIn = "/etc/systemd/system/prometheus.service.d/external-url.conf";
  await sandbox.vmShell(
    `rm -f ${WEB_CONFIG} && mkdir -p ${path.posix.dirname(dropIn)} && ` +
      `printf '[Service]\\nExecStart=\\nExecStart=/usr/bin/prometheus $ARGS "--web.external-url=%s"\\n' "${prometheusUrl}" > ${dropIn} && systemctl daemon-reload`,
  );
  await sandbox.reconfigureVmPrometheus({}, { waitReady: false });
  await prometheusAnswers(prometheusUrl, 200);
  await sandbox.vmShell(`install -d -o prometheus -g prometheus -m 0750 '/var/lib/prom data' && install -d -o prometheus -g prometheus -m 0750 "/var/lib/prom data/it's \\$(touch thanos-pwned)"`);

  const change: VmChange = { vm: { tsdbPath, prometheusUrl } };
  assert.deepEqual({ tsdbPath: sandbox.vmConfig(change).tsdbPath, prometheusUrl: sandbox.vmConfig(change).prometheusUrl }, { tsdbPath, prometheusUrl });
  const labels = await sandbox.readExternalLabels(change);
  assert.equal(labels.code, 0, report(labels));
  const install = await sandbox.install(change);
  assert.equal(install.code, 0, report(install));
  assert.match(install.stderr, /warning: Prometheus reports storage\.tsdb\.path=\/var\/lib\/prometheus\/metrics2 but tsdbPath is \/var\/lib\/prom data\/it's \$\(touch thanos-pwned\)/);

  // The sidecar runs with exactly these arguments, byte for byte.
  const pid = (await sandbox.vmShell(`systemctl show ${UNIT_NAME} -p MainPID --value`)).trim();
  const argv = (await sandbox.vmShell(`tr '\\0' '\\n' < /proc/${pid}/cmdline`)).trimEnd().split("\n");
  assert.ok(argv.includes(`--tsdb.path=${tsdbPath}`), argv.join("\n"));
  assert.ok(argv.includes(`--prometheus.url=${prometheusUrl}`), argv.join("\n"));
  // Nothing ran the $(...): no file of that name anywhere on the VM, no shell error in the journal.
  assert.equal((await sandbox.vmShell("find / -xdev -name 'thanos-pwned*' 2>/dev/null || true")).trim(), "");
  const journal = await sandbox.vmJournal();
  assert.doesNotMatch(journal, /command not found|syntax error|unexpected EOF/);
  // The sidecar works: ready, and its series come through the querier.
  await vmStoreHealthy();
  await querier?.stop();
});
