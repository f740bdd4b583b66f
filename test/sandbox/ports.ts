// Loopback networking for the sandbox: ports the kernel hands out (so parallel runs never collide), checks that a
// port is free again after a teardown, and a plain HTTP client without keep-alive (a pooled socket would outlive
// the server it talks to and blur "nothing left listening").
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";

export const LOOPBACK = "127.0.0.1";

/** `count` distinct ports free on `host`: all are held open together so the kernel cannot hand one out twice. */
export async function freePorts(count: number, host = LOOPBACK): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, host, resolve);
      });
    }
    return servers.map((server) => (server.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

export async function freePort(host = LOOPBACK): Promise<number> {
  const [port] = await freePorts(1, host);
  return port;
}

/** Whether something accepts TCP connections on host:port. */
export function isListening(port: number, host = LOOPBACK, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (listening: boolean) => {
      socket.destroy();
      resolve(listening);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** The ports among `ports` that still accept connections on `host`. */
export async function listeningPorts(ports: readonly number[], host = LOOPBACK): Promise<number[]> {
  const open = await Promise.all(ports.map((port) => isListening(port, host)));
  return ports.filter((_, i) => open[i]);
}

export interface HttpRequest {
  method?: string;
  /** http:// or https:// */
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** For https: the PEM certificates to trust (the server's own CA); nothing else is trusted then. */
  ca?: string;
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTP(S) request on a fresh connection; rejects on network errors and after `timeoutMs` (default 10 s). */
export function httpRequest(request: HttpRequest): Promise<HttpResponse> {
  const { method = "GET", url, headers = {}, body, ca, timeoutMs = 10_000 } = request;
  const client = url.startsWith("https:") ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, { method, headers, agent: false, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** GETs a URL and parses its JSON body; non-2xx answers are errors carrying the body. */
export async function getJson<T>(url: string): Promise<T> {
  const response = await httpRequest({ url });
  const text = response.body.toString("utf8");
  if (response.status < 200 || response.status >= 300) throw new Error(`GET ${url}: HTTP ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** A stretch of time in which a URL did not answer 200: from its first failed poll to the next answer (Unix ms). */
export interface Outage {
  from: number;
  to: number;
}

/**
 * Polls each URL every `intervalMs` until stopped; then each URL's outages. An outage still open at the end closes
 * there.
 */
export function watchOutages(urls: readonly string[], intervalMs = 100): { stop(): Promise<Outage[][]> } {
  let running = true;
  const watched = urls.map(async (url) => {
    const outages: Outage[] = [];
    let downSince: number | undefined;
    while (running) {
      const started = Date.now();
      const ok = await httpRequest({ url, timeoutMs: 1_000 }).then(
        (response) => response.status === 200,
        () => false,
      );
      if (!ok && downSince === undefined) downSince = started;
      if (ok && downSince !== undefined) {
        outages.push({ from: downSince, to: started });
        downSince = undefined;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, intervalMs - (Date.now() - started))));
    }
    if (downSince !== undefined) outages.push({ from: downSince, to: Date.now() });
    return outages;
  });
  return {
    async stop() {
      running = false;
      return Promise.all(watched);
    },
  };
}
