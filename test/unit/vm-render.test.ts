import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { joinHostPort, sidecarReadyUrl } from "../../lib/address";
import { parseThanosVersion } from "../../lib/thanosVersion";
import { vmPrometheusCommands, vmSidecarCommands } from "../../lib/vm/commands";
import { thanosSources } from "../../lib/vm/download";
import { sidecarFlags } from "../../lib/vm/flags";
import { vmSidecarPayload } from "../../lib/vm/payload";
import { externalLabelsValues, prometheusSetupValues } from "../../lib/vm/prometheusSetup";
import { renderScript, shQuote } from "../../lib/vm/shell";
import { sidecarScriptValues } from "../../lib/vm/sidecarValues";
import { renderSidecarUnit } from "../../lib/vm/unit";
import { runCommand } from "../harness/command";
import { effectiveScript, parsePayload, scriptOf, scriptValue, STACK, VM, VM_HOST } from "../harness/vm";

describe("sidecarFlags", () => {
  it("renders the sidecar's flags from the settings", () => {
    assert.deepEqual(sidecarFlags(VM, false), [
      "sidecar",
      "--log.level=info",
      "--tsdb.path=/var/lib/prometheus/metrics2",
      "--prometheus.url=http://localhost:9090",
      "--objstore.config-file=/etc/thanos-global-view/objstore.yml",
      "--http-address=0.0.0.0:10902",
      "--grpc-address=0.0.0.0:10901",
    ]);
  });

  it("adds the gRPC server TLS files when TLS is on", () => {
    assert.deepEqual(sidecarFlags(VM, true).slice(-3), [
      "--grpc-server-tls-cert=/etc/thanos-global-view/tls/server.crt",
      "--grpc-server-tls-key=/etc/thanos-global-view/tls/server.key",
      "--grpc-server-tls-client-ca=/etc/thanos-global-view/tls/ca.crt",
    ]);
  });

  it("brackets IPv6 bind addresses", () => {
    const flags = sidecarFlags({ ...VM, bindAddress: "::", grpcPort: 19091, httpPort: 19092 }, false);
    assert.ok(flags.includes("--grpc-address=[::]:19091"));
    assert.ok(flags.includes("--http-address=[::]:19092"));
  });
});

describe("addresses", () => {
  it("joins hosts and ports, bracketing IPv6", () => {
    assert.equal(joinHostPort("10.0.0.158", 10901), "10.0.0.158:10901");
    assert.equal(joinHostPort("vm.example.com", 10901), "vm.example.com:10901");
    assert.equal(joinHostPort("fd00::1", 10901), "[fd00::1]:10901");
  });

  it("probes readiness on loopback when the sidecar listens everywhere", () => {
    assert.equal(sidecarReadyUrl("0.0.0.0", 10902), "http://127.0.0.1:10902/-/ready");
    assert.equal(sidecarReadyUrl("::", 10902), "http://[::1]:10902/-/ready");
    assert.equal(sidecarReadyUrl("10.1.2.3", 10902), "http://10.1.2.3:10902/-/ready");
  });
});

describe("renderSidecarUnit", () => {
  const unit = renderSidecarUnit(VM, STACK, "prometheus");

  it("runs the stack's Thanos version with the sidecar flags as the given user", () => {
    assert.match(unit, /^User=prometheus$/m);
    assert.match(
      unit,
      /^ExecStart=\/opt\/thanos-global-view\/thanos-0\.42\.4\/thanos \\\n {4}sidecar \\\n {4}--log\.level=info \\\n {4}--tsdb\.path=\/var\/lib\/prometheus\/metrics2 \\$/m,
    );
    for (const flag of sidecarFlags(VM, false)) assert.ok(unit.includes(`    ${flag}`), `missing ${flag}`);
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^WantedBy=multi-user\.target$/m);
  });

  it("is hardened and may write only the TSDB", () => {
    for (const line of [
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "ReadWritePaths=/var/lib/prometheus/metrics2",
      "ProtectHome=yes",
      "PrivateTmp=yes",
      "PrivateDevices=yes",
      "ProtectKernelTunables=yes",
      "ProtectKernelModules=yes",
      "ProtectControlGroups=yes",
      "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
      "CapabilityBoundingSet=",
      "AmbientCapabilities=",
      "SystemCallFilter=@system-service",
    ]) {
      assert.ok(unit.split("\n").includes(line), `missing ${line}`);
    }
  });

  it("keeps a TSDB under /home writable and one under /tmp visible", () => {
    const home = renderSidecarUnit({ ...VM, tsdbPath: "/home/prom/data" }, STACK, "prom");
    assert.match(home, /^ProtectHome=read-only$/m);
    const tmp = renderSidecarUnit({ ...VM, tsdbPath: "/var/tmp/prom" }, STACK, "prom");
    assert.match(tmp, /^PrivateTmp=no$/m);
  });

  it("escapes systemd specifiers, variables and spaces in arguments", () => {
    /** The ExecStart argument starting with `flag`, as the unit writes it. */
    const arg = (vm: Partial<typeof VM>, flag: string) =>
      renderSidecarUnit({ ...VM, ...vm }, STACK, "prom")
        .split("\n")
        .map((line) => line.trim().replace(/ \\$/, ""))
        .find((line) => line.replace(/^"/, "").startsWith(flag));
    assert.equal(arg({ prometheusUrl: "http://h:9090/a%20b" }, "--prometheus.url="), "--prometheus.url=http://h:9090/a%%20b");
    assert.equal(arg({ tsdbPath: "/data/$HOME" }, "--tsdb.path="), '"--tsdb.path=/data/$$HOME"');
    assert.equal(arg({ tsdbPath: '/my data/"x"' }, "--tsdb.path="), '"--tsdb.path=/my data/\\"x\\""');
    assert.throws(() => renderSidecarUnit({ ...VM, tsdbPath: "/data\nExecStartPre=/bin/evil" }, STACK, "prom"), /control character/);
    assert.throws(() => renderSidecarUnit(VM, STACK, "x\nUser=root"), /control character/);
  });
});

describe("thanosSources", () => {
  it("expands the default GitHub release URLs", () => {
    const source = thanosSources("0.42.4", STACK.thanosDownload).arm64;
    assert.equal(source.tarballUrl, "https://github.com/thanos-io/thanos/releases/download/v0.42.4/thanos-0.42.4.linux-arm64.tar.gz");
    assert.equal(source.sha256sumsUrl, "https://github.com/thanos-io/thanos/releases/download/v0.42.4/sha256sums.txt");
    assert.equal(source.tarballName, "thanos-0.42.4.linux-arm64.tar.gz");
    assert.equal(source.binaryMember, "thanos-0.42.4.linux-arm64/thanos");
    assert.equal(source.pinnedSha256, "");
  });

  it("uses a mirror template and a pinned checksum", () => {
    const sha = "a".repeat(64);
    const sources = thanosSources("0.34.1", {
      urlTemplate: "https://mirror.local/thanos/{version}/{arch}/thanos.tgz",
      sha256sumsUrlTemplate: "https://mirror.local/thanos/{version}/sums",
      sha256: { amd64: sha },
    });
    assert.equal(sources.amd64.tarballUrl, "https://mirror.local/thanos/0.34.1/amd64/thanos.tgz");
    assert.equal(sources.amd64.sha256sumsUrl, "https://mirror.local/thanos/0.34.1/sums");
    assert.equal(sources.amd64.pinnedSha256, sha);
    assert.equal(sources.arm64.pinnedSha256, "");
  });

  it("rejects versions and checksums that are not", () => {
    assert.throws(() => thanosSources("0.42.4; rm -rf /", STACK.thanosDownload), /not a Thanos release version/);
    assert.throws(() => thanosSources("0.42.4", { ...STACK.thanosDownload, sha256: { amd64: "ABC" } }), /64 lower-case hex/);
  });
});

describe("shell quoting", () => {
  it("survives sh (the SSH user's login shell) for any value", async () => {
    const nasty = `it's "quoted" $HOME \`id\` \\ \n; rm -rf / #`;
    const result = await runCommand("sh", ["-c", `printf '%s' ${shQuote(nasty)}`]);
    assert.equal(result.stdout, nasty);
  });
});

describe("renderScript", () => {
  const values = sidecarScriptValues(VM, VM_HOST, STACK);
  const header = (script: string) => /^\{\n([\s\S]*?)\n\}$/m.exec(script)?.[1].split("\n") ?? [];

  it("inlines every sourced file once and no source line is left", () => {
    const script = renderScript("install", values);
    assert.doesNotMatch(script, /^(source|\.) /m);
    for (const file of ["lib/prelude.sh", "lib/messages.sh", "lib/payload.sh", "lib/sidecar-checks.sh"]) {
      assert.equal(script.split("\n").filter((line) => line === `# ${file}`).length, 1, file);
    }
    assert.equal(script.match(/^log\(\) /gm)?.length, 1);
    assert.match(script, /^#!\/bin\/bash\n# thanos-global-view: the sidecar's install script/);
    assert.match(script, /\nmain\n$/);
  });

  it("puts the values where the stub was: after the prelude, before the code that reads them", () => {
    const script = renderScript("delete", values);
    const at = (text: string) => script.indexOf(text);
    assert.ok(at("set -euo pipefail") < at("readonly VM_NAME='prom-vm'"));
    assert.ok(at("readonly VM_NAME='prom-vm'") < at("log() {"));
  });

  it("assigns only the values a script uses, each quoted as its kind", () => {
    const deleteHeader = header(renderScript("delete", { ...values, TSDB_PATH: "/data/it's" }));
    assert.ok(deleteHeader.includes(`readonly TSDB_PATH='/data/it'\\''s'`), deleteHeader.join("\n"));
    assert.ok(!deleteHeader.some((line) => line.startsWith("readonly UNIT_TEMPLATE=")), "delete writes no unit");
    const installHeader = header(renderScript("install", values));
    assert.ok(installHeader.includes("readonly READY_TIMEOUT_SECONDS=120"));
    assert.ok(installHeader.includes("readonly TLS_ENABLED=0"));
    const setup = prometheusSetupValues(VM, { externalLabels: { cluster: "prom_vm", region: "eu 1" }, blockDuration: "2h" });
    assert.ok(header(renderScript("prometheus-setup", setup)).includes("readonly -a LABEL_VALUES=('prom_vm' 'eu 1')"));
  });

  it("refuses a value its stub does not declare", () => {
    assert.throws(() => renderScript("install", { ...values, FAKE_DIR: "/tmp" }), /install\.sh: value FAKE_DIR is not declared in values\/sidecar\.sh/);
  });

  it("refuses to leave a declared value out", () => {
    const withoutToken = Object.fromEntries(Object.entries(values).filter(([name]) => name !== "OWNER_TOKEN"));
    assert.throws(() => renderScript("delete", withoutToken), /values\/sidecar\.sh declares OWNER_TOKEN, but no value was given/);
  });

  it("refuses a value of another kind than declared", () => {
    assert.throws(() => renderScript("install", { ...values, READY_TIMEOUT_SECONDS: "120" }), /READY_TIMEOUT_SECONDS must be integer/);
    assert.throws(() => renderScript("install", { ...values, VM_NAME: ["prom-vm"] }), /VM_NAME must be text/);
  });

  it("gets from the product exactly the values each stub declares", () => {
    // renderScript throws on any difference, so each script rendering at all is the check.
    const vm = { ...VM, configurePrometheus: { externalLabels: { cluster: "prom_vm" }, blockDuration: "2h" } };
    assert.deepEqual(Object.keys(vmSidecarCommands(vm, VM_HOST, STACK)).sort(), ["delete", "install"]);
    assert.deepEqual(Object.keys(vmPrometheusCommands(vm)).sort(), ["externalLabels", "setup"]);
  });
});

describe("vmSidecarPayload", () => {
  it("carries each secret file base64-encoded between the magic line and end", () => {
    const payload = vmSidecarPayload({
      objstoreYaml: "type: S3\n",
      tls: { caCert: "CA", cert: "CERT", key: "KEY" },
      prometheus: {},
      redact: ["s3cr3t", ""],
    });
    assert.deepEqual(parsePayload(payload), {
      "objstore.yml": "type: S3\n",
      "tls-ca.crt": "CA",
      "tls-server.crt": "CERT",
      "tls-server.key": "KEY",
      redact: "s3cr3t",
    });
  });
});

describe("vmSidecarCommands", () => {
  const commands = vmSidecarCommands(VM, VM_HOST, STACK);

  it("runs each script with bash -c, directly as root", () => {
    assert.match(commands.install, /^bash -c '#!\/bin\/bash\n/);
    assert.match(commands.install, / 'thanos-global-view-install' "\$HOME"\/'\.thanos-global-view\/install\.sh'$/);
    assert.match(commands.delete, / 'thanos-global-view-delete'$/);
    assert.equal(vmPrometheusCommands(VM).setup, undefined);
  });

  it("goes through sudo for other users", () => {
    const sudo = vmSidecarCommands({ ...VM, user: "ops" }, VM_HOST, STACK);
    for (const command of [sudo.install, sudo.delete]) assert.match(command, /^sudo -n bash -c '/);
  });

  /** The functions a script defines and its values, as bash sees them once it has read all but the call of main. */
  async function definitions(script: string): Promise<string> {
    assert.ok(script.endsWith("\nmain\n"));
    const result = await runCommand("bash", ["-c", 'eval "$1"; declare -f; declare -p | grep "^declare -[a-zA-Z]*r"', "defs", script.slice(0, -"main\n".length)]);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout;
  }

  it("runs the rendered scripts: the same functions and values, the code unpacked or uploaded", async () => {
    const setupVm = { ...VM, configurePrometheus: { externalLabels: { cluster: "prom_vm" }, blockDuration: "2h" } };
    const withSetup = vmPrometheusCommands(setupVm);
    const values = sidecarScriptValues(VM, VM_HOST, STACK);
    const cases: [string, string, string][] = [
      ["install", commands.install, renderScript("install", values)],
      ["delete", commands.delete, renderScript("delete", values)],
      ["external-labels", withSetup.externalLabels, renderScript("external-labels", externalLabelsValues(setupVm))],
      ["prometheus-setup", withSetup.setup!, renderScript("prometheus-setup", prometheusSetupValues(setupVm, setupVm.configurePrometheus))],
    ];
    for (const [kind, command, rendered] of cases) {
      const expected = await definitions(rendered);
      assert.ok(expected.includes("main ()"), kind);
      assert.equal(await definitions(effectiveScript(command)), expected, kind);
    }
    assert.equal(scriptValue(scriptOf(commands.install), "VM_NAME"), "prom-vm");
  });

  it("keeps each command small: the install's code is uploaded, the delete's compressed", () => {
    // Each is stored twice in state (inputs and outputs), per VM.
    assert.ok(commands.install.length < 6 * 1024, `install: ${commands.install.length} bytes`);
    assert.ok(commands.delete.length < 3 * 1024, `delete: ${commands.delete.length} bytes`);
    assert.ok(!commands.install.includes("prune_releases"), "the install command carries its code");
    assert.match(commands.install, / "\$HOME"\/'\.thanos-global-view\/install\.sh'$/);
  });

  it("renders the configured version, URLs and pinned checksum into the install", () => {
    const install = scriptOf(commands.install);
    assert.ok(install.includes("readonly THANOS_VERSION='0.42.4'"));
    assert.ok(
      install.includes(
        "readonly TARBALL_URL_AMD64='https://github.com/thanos-io/thanos/releases/download/v0.42.4/thanos-0.42.4.linux-amd64.tar.gz'",
      ),
    );
    const sha = "b".repeat(64);
    const pinned = vmSidecarCommands(VM, VM_HOST, {
      ...STACK,
      thanosVersion: parseThanosVersion("0.34.1")!,
      thanosDownload: { urlTemplate: "http://127.0.0.1:8080/{version}/t-{arch}.tgz", sha256sumsUrlTemplate: "http://127.0.0.1:8080/s", sha256: { amd64: sha } },
    });
    const pinnedInstall = scriptOf(pinned.install);
    assert.ok(pinnedInstall.includes("readonly TARBALL_URL_AMD64='http://127.0.0.1:8080/0.34.1/t-amd64.tgz'"));
    assert.ok(pinnedInstall.includes(`readonly PINNED_SHA256_AMD64='${sha}'`));
    assert.ok(pinnedInstall.includes("readonly PINNED_SHA256_ARM64=''"));
    assert.ok(pinnedInstall.includes("ExecStart=/opt/thanos-global-view/thanos-0.34.1/thanos"));
  });

  it("gives install and delete the same ownership token", () => {
    const token = scriptValue(scriptOf(commands.install), "OWNER_TOKEN");
    assert.match(token, /^[0-9a-f]{32}$/);
    assert.equal(scriptValue(scriptOf(commands.delete), "OWNER_TOKEN"), token);
  });

  it("makes the token differ per stack, VM entry and SSH target", () => {
    const token = (vm: typeof VM, host: string, stack: typeof STACK) => scriptValue(scriptOf(vmSidecarCommands(vm, host, stack).delete), "OWNER_TOKEN");
    const base = token(VM, VM_HOST, STACK);
    assert.equal(token(VM, VM_HOST, STACK), base);
    assert.notEqual(token({ ...VM, name: "prom-vm-2" }, VM_HOST, STACK), base);
    assert.notEqual(token(VM, "vm.example.com", STACK), base);
    assert.notEqual(token({ ...VM, port: 2222 }, VM_HOST, STACK), base);
    assert.notEqual(token(VM, VM_HOST, { ...STACK, owner: { project: "thanos-global-view", stack: "prod" } }), base);
  });

  it("keeps the tokens sidecars already installed carry", () => {
    // A changed token would make every deployed sidecar look foreign to its own stack's delete.
    assert.equal(scriptValue(scriptOf(commands.delete), "OWNER_TOKEN"), "1fef8d050d25f73e03933e580fc23b8f");
  });

  it("adds the Prometheus setup only when asked", () => {
    const setup = scriptOf(vmPrometheusCommands({ ...VM, configurePrometheus: { externalLabels: { cluster: "prom_vm" }, blockDuration: "2h" } }).setup ?? "");
    assert.ok(setup.includes("readonly BLOCK_DURATION='2h'"));
    assert.ok(setup.includes("readonly -a LABEL_NAMES=('cluster')"));
    assert.ok(setup.includes(`readonly -a LABEL_YAML=('"prom_vm"')`));
  });

  it("reads the labels again when configurePrometheus changes them, not when the Thanos version changes", () => {
    const setup = (cluster: string) => ({ ...VM, configurePrometheus: { externalLabels: { cluster }, blockDuration: "2h" } });
    const read = vmPrometheusCommands(setup("a")).externalLabels;
    assert.ok(scriptOf(read).includes(`readonly CONFIGURED_LABELS='{cluster: "a"}'`));
    assert.notEqual(vmPrometheusCommands(setup("b")).externalLabels, read);
    assert.equal(vmPrometheusCommands(VM).externalLabels, vmPrometheusCommands({ ...VM, logLevel: "debug" }).externalLabels);
  });

  it("gives a restarted Prometheus at least 5 minutes to replay its WAL, whatever the sidecar's ready timeout", () => {
    const setup = { externalLabels: { cluster: "prom_vm" }, blockDuration: "2h" };
    assert.equal(prometheusSetupValues({ ...VM, readyTimeoutSeconds: 2 }, setup).READY_TIMEOUT_SECONDS, 300);
    assert.equal(prometheusSetupValues({ ...VM, readyTimeoutSeconds: 900 }, setup).READY_TIMEOUT_SECONDS, 900);
  });

  it("stays far below the kernel's 128 KiB limit for one argument", () => {
    assert.deepEqual(Object.keys(commands).sort(), ["delete", "install"]);
    for (const command of Object.values(commands)) {
      assert.ok(command.length < 64 * 1024, `${command.length} bytes`);
      // The limit holds for the whole script, not for an empty or cut-short command.
      assert.match(effectiveScript(command), /^#!\/bin\/bash\n# The values for this VM[\s\S]*\nreadonly VM_NAME='prom-vm'\n[\s\S]*\nmain\n$/);
    }
  });
});
