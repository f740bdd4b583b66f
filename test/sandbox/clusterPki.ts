// The sandbox cluster's certificates, made anew at every start with openssl: a throw-away CA (ECDSA P-256, valid for
// a week), a serving certificate for the API server and the kubelet, a client certificate per component (the API
// server authenticates each by its CN and O, RBAC does the rest), the service-account signing key, and a kubeconfig
// per client. Nothing is reused between runs.
import * as fs from "node:fs";
import * as path from "node:path";
import { runCommand } from "../harness/command";
import { kubeconfig, type ClusterPaths } from "./clusterFiles";
import { API_SERVICE_IP, CLUSTER_DOMAIN, HOST_ADDRESS, NODE_NAME } from "./clusterNetwork";

const DAYS = "7";
const CURVE = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

async function openssl(cwd: string, args: string[]): Promise<void> {
  const result = await runCommand("openssl", args, { cwd });
  if (result.code !== 0) throw new Error(`openssl ${args[0]}: exit ${result.code}: ${result.stderr.trim()}`);
}

interface Leaf {
  name: string;
  /** The subject: the API server maps CN to the user and O to its groups. */
  subject: string;
  usage: "serverAuth" | "clientAuth";
  altNames?: string[];
}

/** The client certificates and the kubeconfigs made from them: [kubeconfig name, user, certificate]. */
export const KUBECONFIGS = [
  ["admin", "sandbox-admin", "admin"],
  ["controller-manager", "system:kube-controller-manager", "controller-manager"],
  ["scheduler", "system:kube-scheduler", "scheduler"],
  ["kubelet", `system:node:${NODE_NAME}`, "kubelet-client"],
  ["kube-proxy", "system:kube-proxy", "kube-proxy"],
] as const;

const LEAVES: Leaf[] = [
  {
    name: "apiserver",
    subject: "/CN=kube-apiserver",
    usage: "serverAuth",
    // As the host, the pods (the kubernetes Service) and the in-cluster names reach it.
    altNames: [
      `IP:${HOST_ADDRESS}`,
      `IP:${API_SERVICE_IP}`,
      "DNS:kubernetes",
      "DNS:kubernetes.default",
      "DNS:kubernetes.default.svc",
      `DNS:kubernetes.default.svc.${CLUSTER_DOMAIN}`,
    ],
  },
  { name: "kubelet", subject: `/CN=${NODE_NAME}`, usage: "serverAuth", altNames: [`IP:${HOST_ADDRESS}`, `DNS:${NODE_NAME}`] },
  // The API server's identity towards the kubelet (exec, logs, port-forward).
  { name: "apiserver-kubelet-client", subject: "/O=system:masters/CN=kube-apiserver-kubelet-client", usage: "clientAuth" },
  { name: "admin", subject: "/O=system:masters/CN=sandbox-admin", usage: "clientAuth" },
  { name: "controller-manager", subject: "/CN=system:kube-controller-manager", usage: "clientAuth" },
  { name: "scheduler", subject: "/CN=system:kube-scheduler", usage: "clientAuth" },
  { name: "kubelet-client", subject: `/O=system:nodes/CN=system:node:${NODE_NAME}`, usage: "clientAuth" },
  { name: "kube-proxy", subject: "/CN=system:kube-proxy", usage: "clientAuth" },
];

async function issue(dir: string, leaf: Leaf): Promise<void> {
  const extensions = [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    `extendedKeyUsage=${leaf.usage}`,
    ...(leaf.altNames ? [`subjectAltName=${leaf.altNames.join(",")}`] : []),
  ];
  fs.writeFileSync(path.join(dir, `${leaf.name}.ext`), `${extensions.join("\n")}\n`);
  await openssl(dir, ["req", "-new", ...CURVE, "-nodes", "-keyout", `${leaf.name}.key`, "-out", `${leaf.name}.csr`, "-subj", leaf.subject]);
  await openssl(dir, [
    "x509", "-req", "-in", `${leaf.name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
    "-days", DAYS, "-extfile", `${leaf.name}.ext`, "-out", `${leaf.name}.crt`,
  ]);
  fs.rmSync(path.join(dir, `${leaf.name}.csr`));
  fs.rmSync(path.join(dir, `${leaf.name}.ext`));
}

/** Makes the CA, every certificate, the service-account key and the kubeconfigs. */
export async function createClusterPki(paths: ClusterPaths): Promise<void> {
  const dir = paths.pki;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(paths.kubeconfigs, { recursive: true, mode: 0o700 });
  await openssl(dir, [
    "req", "-x509", ...CURVE, "-nodes", "-days", DAYS, "-keyout", "ca.key", "-out", "ca.crt",
    "-subj", "/CN=thanos-global-view-sandbox-ca",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  // One at a time: -CAcreateserial writes ca.srl, which parallel signings would race on.
  for (const leaf of LEAVES) await issue(dir, leaf);
  // ES256 service-account tokens.
  await openssl(dir, ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", "sa.key"]);
  await openssl(dir, ["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
  for (const file of fs.readdirSync(dir).filter((name) => name.endsWith(".key"))) fs.chmodSync(path.join(dir, file), 0o600);
  for (const [name, user, certificate] of KUBECONFIGS) {
    fs.writeFileSync(path.join(paths.kubeconfigs, `${name}.kubeconfig`), kubeconfig(paths, user, certificate), { mode: 0o600 });
  }
}
