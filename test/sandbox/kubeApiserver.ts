// A bare Kubernetes API server to validate manifests against: kube-apiserver built by test/build/build-kubernetes,
// stored in Debian's etcd, both on loopback ports the kernel picked with their state in the run directory, so it runs
// beside anything else (the sandbox cluster included). Nothing schedules or runs the objects it accepts; it validates
// and stores them, which is what the validation tests need.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";
import { REPO_ROOT } from "../repo";
import { prometheusOperatorCrdFiles } from "./inClusterPrometheus";
import { freePorts, httpRequest, LOOPBACK } from "./ports";
import { runForStdout, startProcess, startUntilReady, waitFor, type ProcessRegistry } from "./process";

const FIELD_MANAGER = "thanos-global-view-sandbox";

/** The directory of the Kubernetes binaries (kube-apiserver, kubelet, kubectl, ...) test/build/build-kubernetes builds. */
export async function kubernetesBinDir(): Promise<string> {
  return (await runForStdout(path.join(REPO_ROOT, "test", "build", "build-kubernetes"))).trim();
}

/** An object as a manifest holds it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string } & Record<string, unknown>;
  [field: string]: unknown;
}

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

export class KubeApiserver {
  private readonly resources = new Map<string, ApiResource[]>();

  constructor(
    /** https://127.0.0.1:<port> */
    readonly url: string,
    private readonly token: string,
    /** The server's self-signed CA (PEM), the only certificate trusted when talking to it. */
    private readonly ca: string,
  ) {}

  private async request(method: string, urlPath: string, body?: string, contentType?: string): Promise<unknown> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}`, Accept: "application/json" };
    if (contentType) headers["Content-Type"] = contentType;
    const response = await httpRequest({ method, url: `${this.url}${urlPath}`, headers, body, ca: this.ca });
    const text = response.body.toString("utf8");
    if (response.status < 200 || response.status >= 300) {
      // A Status object's message says what was refused and why.
      let message = text;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {
        // Not JSON: the raw body is the message.
      }
      throw new Error(`${method} ${urlPath}: HTTP ${response.status}: ${message}`);
    }
    return JSON.parse(text) as unknown;
  }

  /** The server's version, e.g. "v1.35.4". */
  async version(): Promise<string> {
    return ((await this.request("GET", "/version")) as { gitVersion: string }).gitVersion;
  }

  /** The resource (plural name, scope) serving `kind` in `apiVersion`, from the server's discovery documents. */
  private async resourceFor(apiVersion: string, kind: string): Promise<ApiResource> {
    let list = this.resources.get(apiVersion);
    if (!list) {
      const discovery = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      list = ((await this.request("GET", discovery)) as { resources: ApiResource[] }).resources;
      this.resources.set(apiVersion, list);
    }
    const resource = list.find((candidate) => candidate.kind === kind && !candidate.name.includes("/"));
    if (!resource) throw new Error(`the API server serves no ${kind} in ${apiVersion}`);
    return resource;
  }

  /**
   * Server-side apply with strict field validation: creates or updates the object, or throws the server's reason
   * (an unknown field, an invalid value). Resolves to the object as stored.
   */
  async apply(object: KubeObject): Promise<KubeObject> {
    const query = new URLSearchParams({ fieldManager: FIELD_MANAGER, fieldValidation: "Strict", force: "true" });
    const urlPath = `${await this.objectPath(object)}?${query.toString()}`;
    try {
      // JSON is YAML, and it is what the apply content type accepts.
      return (await this.request("PATCH", urlPath, JSON.stringify(object), "application/apply-patch+yaml")) as KubeObject;
    } catch (error) {
      throw new Error(`${object.kind} ${object.metadata.name} refused: ${(error as Error).message}`);
    }
  }

  /** Deletes the object if it is there (as the kubernetes provider replaces what it may not update in place). */
  async delete(object: KubeObject): Promise<void> {
    const urlPath = await this.objectPath(object);
    await this.request("DELETE", urlPath).catch((error: Error) => {
      if (!/: HTTP 404: /.test(error.message)) throw error;
    });
  }

  private async objectPath(object: KubeObject): Promise<string> {
    const resource = await this.resourceFor(object.apiVersion, object.kind);
    const prefix = object.apiVersion.includes("/") ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`;
    const scope = resource.namespaced ? `/namespaces/${object.metadata.namespace ?? "default"}` : "";
    return `${prefix}${scope}/${resource.name}/${encodeURIComponent(object.metadata.name)}`;
  }

  /**
   * Installs CustomResourceDefinitions (e.g. prometheus-operator's) and waits until the server serves each kind, so
   * objects of those kinds are then validated against the CRDs' schemas like built-in ones.
   */
  async installCustomResourceDefinitions(crds: readonly KubeObject[]): Promise<void> {
    for (const crd of crds) await this.apply(crd);
    for (const crd of crds) {
      const { group, names, versions } = crd.spec as { group: string; names: { kind: string }; versions: { name: string; served: boolean }[] };
      for (const version of versions.filter((candidate) => candidate.served)) {
        const apiVersion = `${group}/${version.name}`;
        await waitFor(`${names.kind} served in ${apiVersion}`, async () => {
          this.resources.delete(apiVersion);
          return (await this.resourceFor(apiVersion, names.kind).catch(() => undefined)) ? true : undefined;
        });
      }
    }
  }

  /** Applies every object, Namespaces first (the others may live in them); the objects as stored, in input order. */
  async applyAll(objects: readonly KubeObject[]): Promise<KubeObject[]> {
    const stored = new Map<KubeObject, KubeObject>();
    for (const object of [...objects].sort((a, b) => Number(b.kind === "Namespace") - Number(a.kind === "Namespace"))) {
      stored.set(object, await this.apply(object));
    }
    return objects.map((object) => stored.get(object)!);
  }
}

/** prometheus-operator's CustomResourceDefinitions (ServiceMonitor, PrometheusRule, ...), from the sandbox's operator build. */
export async function prometheusOperatorCrds(): Promise<KubeObject[]> {
  return (await prometheusOperatorCrdFiles()).flatMap((file) =>
    parseAllDocuments(fs.readFileSync(file, "utf8")).map((document) => document.toJS() as KubeObject),
  );
}

export interface StartKubeApiserverOptions {
  /** State (etcd data, certificates, keys, logs) goes to <runDir>/kube-apiserver. */
  runDir: string;
  registry: ProcessRegistry;
  /** Default 2 minutes. */
  readyTimeoutMs?: number;
}

/** Starts etcd and kube-apiserver on loopback, both stopped by the registry; resolves once the server is ready. */
export async function startKubeApiserver(options: StartKubeApiserverOptions): Promise<KubeApiserver> {
  const { runDir, registry, readyTimeoutMs = 2 * 60_000 } = options;
  const binary = path.join(await kubernetesBinDir(), "kube-apiserver");
  const dir = path.join(runDir, "kube-apiserver");
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const [etcdClientPort, etcdPeerPort, securePort] = await freePorts(3);

  const etcdUrl = `http://${LOOPBACK}:${etcdClientPort}`;
  const peerUrl = `http://${LOOPBACK}:${etcdPeerPort}`;
  await startUntilReady(
    {
      name: "etcd",
      // Debian's etcd-server (test/build/install-host-packages).
      command: "etcd",
      args: [
        "--name=sandbox",
        `--data-dir=${path.join(dir, "etcd")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=sandbox=${peerUrl}`,
      ],
      logFile: path.join(runDir, "logs", "etcd.log"),
      registry,
    },
    `${etcdUrl}/health`,
  );

  // Service account tokens are never issued here, but the server refuses to start without a signing key.
  const serviceAccountKey = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const writePrivate = (name: string, content: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content, { mode: 0o600 });
    return file;
  };
  const signingKeyFile = writePrivate("sa.key", serviceAccountKey.privateKey.export({ type: "pkcs8", format: "pem" }).toString());
  const publicKeyFile = writePrivate("sa.pub", serviceAccountKey.publicKey.export({ type: "spki", format: "pem" }).toString());
  const token = crypto.randomBytes(24).toString("hex");
  // The one user is a cluster admin; the server listens on loopback only.
  const tokenFile = writePrivate("tokens.csv", `${token},sandbox-admin,sandbox-admin,"system:masters"\n`);
  const certDir = path.join(dir, "certs");

  const apiserver = startProcess({
    name: "kube-apiserver",
    command: binary,
    args: [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=${LOOPBACK}`,
      `--advertise-address=${LOOPBACK}`,
      `--secure-port=${securePort}`,
      // A self-signed CA and serving certificate for 127.0.0.1, made at start.
      `--cert-dir=${certDir}`,
      `--token-auth-file=${tokenFile}`,
      "--authorization-mode=RBAC",
      `--service-account-issuer=https://kubernetes.default.svc`,
      `--service-account-key-file=${publicKeyFile}`,
      `--service-account-signing-key-file=${signingKeyFile}`,
      "--service-cluster-ip-range=10.96.0.0/16",
      // No Endpoints for the built-in kubernetes Service: a loopback address is not a valid endpoint.
      "--endpoint-reconciler-type=none",
    ],
    logFile: path.join(runDir, "logs", "kube-apiserver.log"),
    registry,
  });

  const url = `https://${LOOPBACK}:${securePort}`;
  const caFile = path.join(certDir, "apiserver.crt");
  const ready = await waitFor(
    `kube-apiserver ${url}/readyz`,
    async () => {
      if (!apiserver.running) return "exited";
      if (!fs.existsSync(caFile)) return undefined;
      const response = await httpRequest({
        url: `${url}/readyz`,
        headers: { Authorization: `Bearer ${token}` },
        ca: fs.readFileSync(caFile, "utf8"),
        timeoutMs: 2_000,
      });
      return response.status === 200 ? "ready" : undefined;
    },
    readyTimeoutMs,
  ).catch((error: Error) => error.message);
  if (ready !== "ready") {
    const why = ready === "exited" ? `exited (${apiserver.describeExit()})` : ready;
    throw new Error(`kube-apiserver did not become ready: ${why}; last log lines:\n${apiserver.logTail()}`);
  }
  return new KubeApiserver(url, token, fs.readFileSync(caFile, "utf8"));
}
