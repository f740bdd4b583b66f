import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { clientTlsMode, serviceEndpointAddress } from "../../lib/endpoints";
import { querierArgs, type QuerierArgsInput } from "../../lib/querier";
import { parseThanosVersion } from "../../lib/thanosVersion";
import { REFERENCE_QUERIER_ARGS_0_34_1 } from "../harness/configs";

const version = (text: string) => parseThanosVersion(text)!;
const clientTls = { certFile: "/tls/tls.crt", keyFile: "/tls/tls.key", caFile: "/tls/ca.crt" };

function input(overrides: Partial<QuerierArgsInput>): QuerierArgsInput {
  return {
    version: version("0.42.4"),
    logLevel: "info",
    grpcAddress: "0.0.0.0:10901",
    httpAddress: "0.0.0.0:10902",
    replicaLabels: ["prometheus_replica"],
    infoTimeout: "30s",
    endpoints: [
      { address: "dnssrv+_grpc._tcp.sidecar.thanos.svc.cluster.local", tls: false },
      { address: "10.0.0.158:10901", tls: false },
    ],
    ...overrides,
  };
}

const sdConfigOf = (args: string[]) => {
  const flag = args.find((arg) => arg.startsWith("--endpoint.sd-config="));
  assert.ok(flag, `no --endpoint.sd-config in ${args.join(" ")}`);
  return parse(flag.slice("--endpoint.sd-config=".length)) as { endpoints: Record<string, any>[] };
};

describe("querierArgs", () => {
  it("renders the reference setup's command line for 0.34.1 with --endpoint flags", () => {
    assert.deepEqual(querierArgs(input({ version: version("0.34.1") })), REFERENCE_QUERIER_ARGS_0_34_1);
  });

  it("renders an endpoint sd-config for 0.42.4 and never the removed --store", () => {
    const args = querierArgs(input({}));
    assert.deepEqual(args.slice(0, 6), REFERENCE_QUERIER_ARGS_0_34_1.slice(0, 6));
    assert.equal(args.length, 7);
    assert.ok(!args.some((arg) => arg.startsWith("--store") || arg.startsWith("--endpoint=")));
    assert.deepEqual(sdConfigOf(args), {
      endpoints: [{ address: "dnssrv+_grpc._tcp.sidecar.thanos.svc.cluster.local" }, { address: "10.0.0.158:10901" }],
    });
  });

  it("repeats --query.replica-label for each label", () => {
    const args = querierArgs(input({ replicaLabels: ["prometheus_replica", "replica"] }));
    assert.deepEqual(args.filter((arg) => arg.startsWith("--query.replica-label")), [
      "--query.replica-label=prometheus_replica",
      "--query.replica-label=replica",
    ]);
  });

  it("uses per-endpoint TLS for static VM endpoints on 0.42 and leaves the in-cluster Service plain", () => {
    const args = querierArgs(
      input({
        endpoints: [
          { address: "dnssrv+_grpc._tcp.sidecar.thanos.svc.cluster.local", tls: false },
          { address: "203.0.113.7:10901", tls: true },
        ],
        clientTls: { ...clientTls, serverName: "sidecar.example" },
      }),
    );
    assert.ok(!args.includes("--grpc-client-tls-secure"));
    assert.deepEqual(sdConfigOf(args).endpoints, [
      { address: "dnssrv+_grpc._tcp.sidecar.thanos.svc.cluster.local" },
      {
        address: "203.0.113.7:10901",
        // 0.42.x names it client_config (later releases grpc_client_config); a wrong key is silently ignored.
        client_config: {
          tls_config: { enabled: true, cert_file: "/tls/tls.crt", key_file: "/tls/tls.key", ca_file: "/tls/ca.crt" },
          server_name: "sidecar.example",
        },
      },
    ]);
  });

  it("names the per-endpoint client settings grpc_client_config after 0.42", () => {
    const args = querierArgs(
      input({ version: version("0.43.0"), endpoints: [{ address: "203.0.113.7:10901", tls: true }, { address: "dns+a:1", tls: false }], clientTls }),
    );
    assert.deepEqual(sdConfigOf(args).endpoints, [
      {
        address: "203.0.113.7:10901",
        grpc_client_config: { tls_config: { enabled: true, cert_file: "/tls/tls.crt", key_file: "/tls/tls.key", ca_file: "/tls/ca.crt" } },
      },
      { address: "dns+a:1" },
    ]);
  });

  it("switches client TLS on globally when every endpoint uses it, on old versions too", () => {
    const endpoints = [
      { address: "dnssrv+_grpc._tcp.sidecar.thanos.svc.cluster.local", tls: true },
      { address: "10.0.0.158:10901", tls: true },
    ];
    const args = querierArgs(input({ version: version("0.34.1"), endpoints, clientTls }));
    assert.deepEqual(args.slice(6, 10), [
      "--grpc-client-tls-secure",
      "--grpc-client-tls-cert=/tls/tls.crt",
      "--grpc-client-tls-key=/tls/tls.key",
      "--grpc-client-tls-ca=/tls/ca.crt",
    ]);
    assert.equal(clientTlsMode(version("0.42.4"), endpoints), "global");
    // 0.42 too: global flags, and the sd-config lists the endpoints without settings of their own.
    const sdArgs = querierArgs(input({ endpoints, clientTls }));
    assert.ok(sdArgs.includes("--grpc-client-tls-secure"), sdArgs.join(" "));
    assert.ok(sdArgs.includes("--grpc-client-tls-ca=/tls/ca.crt"), sdArgs.join(" "));
    assert.deepEqual(sdConfigOf(sdArgs).endpoints, endpoints.map(({ address }) => ({ address })));
  });

  it("refuses mixed TLS before 0.42, naming the plain endpoints", () => {
    const endpoints = [
      { address: "dns+sidecar.thanos.svc.cluster.local:10901", tls: false },
      { address: "10.0.0.158:10901", tls: true },
    ];
    assert.throws(
      () => querierArgs(input({ version: version("0.41.0"), endpoints, clientTls })),
      /Thanos 0\.41\.0 applies client TLS to all endpoints or none, but dns\+sidecar\.thanos\.svc\.cluster\.local:10901 would be plain/,
    );
  });

  it("refuses TLS endpoints without a client certificate", () => {
    assert.throws(() => querierArgs(input({ endpoints: [{ address: "10.0.0.158:10901", tls: true }] })), /no client certificate/);
  });
});

describe("serviceEndpointAddress", () => {
  it("finds every pod through the SRV records of the grpc port, or the A records at the port", () => {
    const service = { name: "s", namespace: "n", clusterDomain: "c.local", port: 10911 };
    assert.equal(serviceEndpointAddress({ ...service, discovery: "dnssrv" }), "dnssrv+_grpc._tcp.s.n.svc.c.local");
    assert.equal(serviceEndpointAddress({ ...service, discovery: "dns" }), "dns+s.n.svc.c.local:10911");
  });
});
