// Certificates for the mTLS tests, made with Debian's openssl exactly as the README's TLS how-to makes them: a CA,
// and certificates it signs for the sidecars (server, with the addresses the querier dials as subjectAltName) and the
// querier (client).
import * as fs from "node:fs";
import * as path from "node:path";
import { runCommand } from "../harness/command";

export interface Certificate {
  certFile: string;
  keyFile: string;
  /** PEM. */
  cert: string;
  key: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const result = await runCommand("openssl", args, { cwd });
  if (result.code !== 0) throw new Error(`openssl ${args.join(" ")}: ${result.stderr}`);
}

const read = (dir: string, name: string): Certificate => ({
  certFile: path.join(dir, `${name}.crt`),
  keyFile: path.join(dir, `${name}.key`),
  cert: fs.readFileSync(path.join(dir, `${name}.crt`), "utf8"),
  key: fs.readFileSync(path.join(dir, `${name}.key`), "utf8"),
});

/** A self-signed CA `<dir>/<name>.crt` with its key `<name>.key` (EC P-256, ten years). */
export async function makeCa(dir: string, name: string): Promise<Certificate> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  await openssl(
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "3650", "-subj", `/CN=${name}`, "-keyout", `${name}.key`, "-out", `${name}.crt`],
    dir,
  );
  return read(dir, name);
}

/**
 * A certificate `<dir>/<name>.crt` signed by `ca`: for a server with subjectAltName entries such as "IP:10.0.0.158"
 * or "DNS:sidecar.example.com", or for a client.
 */
export async function issue(dir: string, ca: Certificate, name: string, use: { server: readonly string[] } | "client"): Promise<Certificate> {
  await openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${name}`, "-keyout", `${name}.key`, "-out", `${name}.csr`], dir);
  const extensions = use === "client" ? "extendedKeyUsage=clientAuth\n" : `subjectAltName=${use.server.join(",")}\nextendedKeyUsage=serverAuth\n`;
  fs.writeFileSync(path.join(dir, `${name}.ext`), extensions);
  await openssl(
    ["x509", "-req", "-in", `${name}.csr`, "-CA", ca.certFile, "-CAkey", ca.keyFile, "-CAcreateserial", "-days", "825", "-out", `${name}.crt`, "-extfile", `${name}.ext`],
    dir,
  );
  return read(dir, name);
}
