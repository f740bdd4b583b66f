// MinIO on loopback as the sandbox's S3: generated root credentials (the secret carries a recognisable marker, so tests
// can prove it leaks nowhere), a data directory that survives stop/start on the same port (fault test: object store
// down, then back), and just enough of the S3 API, signed with AWS SigV4, to create a bucket and inspect what the
// sidecars uploaded.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT } from "../repo";
import type { ObjstoreSettings } from "../../lib/objstore";
import { freePorts, httpRequest, LOOPBACK, type HttpResponse } from "./ports";
import { runForStdout, startUntilReady, waitFor, type ManagedProcess, type ProcessRegistry } from "./process";

export const REGION = "us-east-1";
/** Every generated secret key starts with this, so a test can search logs for any sandbox secret. */
export const SECRET_KEY_MARKER = "tgvsandboxsecret";

/** The MinIO binary, built (or found in the cache) by test/build/build-minio. */
export async function minioBinary(): Promise<string> {
  return (await runForStdout(path.join(REPO_ROOT, "test", "build", "build-minio"))).trim();
}

/** A random secret key that starts with SECRET_KEY_MARKER. */
export function generateSecretKey(): string {
  return `${SECRET_KEY_MARKER}${crypto.randomBytes(16).toString("hex")}`;
}

export interface StartMinioOptions {
  binary: string;
  /** Parent of the data directory (`<runDir>/minio/data`) and the log (`<runDir>/logs/minio.log`). */
  runDir: string;
  /** Default "minio"; names the log and data directory, for several servers in one run. */
  name?: string;
  /** The address it listens on; default 127.0.0.1 (the sandbox cluster's bridge address, for pods and the VM). */
  host?: string;
  /** Default: a free port. */
  port?: number;
  accessKey?: string;
  secretKey?: string;
  readyTimeoutMs?: number;
  registry?: ProcessRegistry;
}

export interface S3Object {
  key: string;
  size: number;
  lastModified: string;
}

export class MinioServer {
  /** host:port, as the objstore config's `endpoint` wants it. */
  readonly endpoint: string;
  readonly url: string;
  readonly dataDir: string;
  readonly logFile: string;
  private current: ManagedProcess | undefined;

  constructor(
    readonly binary: string,
    readonly name: string,
    readonly host: string,
    readonly port: number,
    private readonly consolePort: number,
    readonly accessKey: string,
    readonly secretKey: string,
    runDir: string,
    private readonly registry: ProcessRegistry | undefined,
    private readonly readyTimeoutMs: number,
  ) {
    this.endpoint = `${host}:${port}`;
    this.url = `http://${this.endpoint}`;
    this.dataDir = path.join(runDir, name, "data");
    this.logFile = path.join(runDir, "logs", `${name}.log`);
    fs.mkdirSync(this.dataDir, { recursive: true });
  }

  get process(): ManagedProcess | undefined {
    return this.current;
  }

  get running(): boolean {
    return this.current?.running ?? false;
  }

  /** Starts the server (again) on the same port and data directory, and waits until it is ready. */
  async start(): Promise<void> {
    if (this.running) return;
    this.current = await startUntilReady(
      {
        name: this.name,
        command: this.binary,
        // The console would otherwise listen on a random port on every interface.
        args: ["server", "--quiet", "--address", this.endpoint, "--console-address", `${this.host}:${this.consolePort}`, this.dataDir],
        env: {
          MINIO_ROOT_USER: this.accessKey,
          MINIO_ROOT_PASSWORD: this.secretKey,
          MINIO_BROWSER: "off",
          MINIO_UPDATE: "off",
        },
        logFile: this.logFile,
        ...(this.registry ? { registry: this.registry } : {}),
      },
      `${this.url}/minio/health/ready`,
      this.readyTimeoutMs,
    );
  }

  async stop(): Promise<void> {
    await this.current?.stop();
  }

  /** Object-store settings (the stack config's `objstore` section) pointing at this server. */
  objstoreSettings(bucket: string, prefix?: string): ObjstoreSettings {
    return { bucket, endpoint: this.endpoint, insecure: true, accessKey: this.accessKey, region: REGION, ...(prefix ? { prefix } : {}) };
  }

  /**
   * PUT bucket; an existing bucket we own is fine. /minio/health/ready answers before the object layer is up, which
   * then refuses with 503 "Server not initialized yet": that is retried for a while.
   */
  async createBucket(bucket: string): Promise<void> {
    const created = await waitFor(`MinIO to create bucket ${bucket}`, async () => {
      const response = await this.s3Request("PUT", `/${bucket}`);
      const body = response.body.toString("utf8");
      if (response.status === 200 || (response.status === 409 && body.includes("BucketAlreadyOwnedByYou"))) return "created";
      if (response.status === 503) throw new Error(`HTTP 503: ${body}`);
      return `HTTP ${response.status}: ${body}`;
    }, 30_000);
    if (created !== "created") throw new Error(`create bucket ${bucket}: ${created}`);
  }

  /** Every object under `prefix` (ListObjectsV2, following continuation tokens). */
  async listObjects(bucket: string, prefix = ""): Promise<S3Object[]> {
    const objects: S3Object[] = [];
    let token: string | undefined;
    do {
      const query: Record<string, string> = { "list-type": "2", prefix, ...(token ? { "continuation-token": token } : {}) };
      const response = await this.s3Request("GET", `/${bucket}`, query);
      const xml = response.body.toString("utf8");
      if (response.status !== 200) throw new Error(`list ${bucket}/${prefix}: HTTP ${response.status}: ${xml}`);
      for (const contents of xmlElements(xml, "Contents")) {
        objects.push({
          key: xmlText(contents, "Key") ?? "",
          size: Number(xmlText(contents, "Size") ?? "0"),
          lastModified: xmlText(contents, "LastModified") ?? "",
        });
      }
      token = xmlText(xml, "IsTruncated") === "true" ? xmlText(xml, "NextContinuationToken") : undefined;
    } while (token);
    return objects;
  }

  async getObject(bucket: string, key: string): Promise<Buffer> {
    const response = await this.s3Request("GET", `/${bucket}/${key}`);
    if (response.status !== 200) throw new Error(`get ${bucket}/${key}: HTTP ${response.status}: ${response.body.toString("utf8")}`);
    return response.body;
  }

  /** PUT a text object (e.g. a block's meta.json rewritten by a test). */
  async putObject(bucket: string, key: string, body: string): Promise<void> {
    const response = await this.s3Request("PUT", `/${bucket}/${key}`, {}, body);
    if (response.status !== 200) throw new Error(`put ${bucket}/${key}: HTTP ${response.status}: ${response.body.toString("utf8")}`);
  }

  /** A path-style S3 request signed with SigV4. */
  private s3Request(method: string, objectPath: string, query: Record<string, string> = {}, body = ""): Promise<HttpResponse> {
    const canonicalQuery = Object.keys(query)
      .sort()
      .map((key) => `${uriEncode(key)}=${uriEncode(query[key])}`)
      .join("&");
    const canonicalPath = objectPath.split("/").map(uriEncode).join("/");
    const headers = signV4({
      method,
      host: this.endpoint,
      canonicalPath,
      canonicalQuery,
      accessKey: this.accessKey,
      secretKey: this.secretKey,
      date: new Date(),
      payload: Buffer.from(body, "utf8"),
    });
    return httpRequest({
      method,
      url: `${this.url}${canonicalPath}${canonicalQuery ? `?${canonicalQuery}` : ""}`,
      headers,
      ...(body ? { body } : {}),
    });
  }
}

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const sha256Hex = (data: string | Buffer) => crypto.createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) => crypto.createHmac("sha256", key).update(data).digest();

interface SignInput {
  method: string;
  host: string;
  canonicalPath: string;
  canonicalQuery: string;
  accessKey: string;
  secretKey: string;
  date: Date;
  payload: Buffer;
}

/** The headers of a SigV4-signed S3 request (AWS "Signature Version 4 signing process"). */
function signV4(input: SignInput): Record<string, string> {
  const amzDate = input.date.toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
  const day = amzDate.slice(0, 8);
  const payloadHash = sha256Hex(input.payload);
  const signed: Record<string, string> = { host: input.host, "x-amz-content-sha256": payloadHash, "x-amz-date": amzDate };
  const names = Object.keys(signed).sort();
  const canonicalRequest = [
    input.method,
    input.canonicalPath,
    input.canonicalQuery,
    ...names.map((name) => `${name}:${signed[name]}`),
    "",
    names.join(";"),
    payloadHash,
  ].join("\n");
  const scope = `${day}/${REGION}/s3/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${input.secretKey}`, day), REGION), "s3"), "aws4_request");
  const signature = crypto.createHmac("sha256", signingKey).update(stringToSign).digest("hex");
  return {
    ...signed,
    authorization: `AWS4-HMAC-SHA256 Credential=${input.accessKey}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`,
  };
}

/** The inner XML of every <tag>…</tag> (S3 list answers do not nest a tag in itself). */
function xmlElements(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))].map((m) => m[1]);
}

/** The decoded text of the first <tag>, if any. */
function xmlText(xml: string, tag: string): string | undefined {
  const inner = xmlElements(xml, tag)[0];
  return inner
    ?.replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCodePoint(Number(code)))
    .replace(/&amp;/g, "&");
}

/** Starts MinIO (on 127.0.0.1 unless told otherwise) with generated credentials and waits until it is ready. */
export async function startMinio(options: StartMinioOptions): Promise<MinioServer> {
  const host = options.host ?? LOOPBACK;
  const [apiPort, consolePort] = await freePorts(2, host);
  const server = new MinioServer(
    options.binary,
    options.name ?? "minio",
    host,
    options.port ?? apiPort,
    consolePort,
    options.accessKey ?? `tgv-${crypto.randomBytes(4).toString("hex")}`,
    options.secretKey ?? generateSecretKey(),
    options.runDir,
    options.registry,
    options.readyTimeoutMs ?? 60_000,
  );
  await server.start();
  return server;
}
