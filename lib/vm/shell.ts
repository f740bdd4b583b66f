/**
 * The bash run on VMs: the .sh files in scripts/, rendered into one self-contained script each. An entry script
 * (install.sh, ...) `source`s the library files it needs and one values stub (values/*.sh) declaring the values it
 * is given. Rendering inlines every sourced file once, in the order written, and gives each value the code uses one
 * quoted `readonly` assignment: the code is constant text, so no value can change a script's syntax. renderScript
 * puts the values where the stub was (one readable file, as the host tests run it and shellcheck lints it);
 * remoteCommand, what is deployed, puts them above the fixed code, which it carries compressed or finds uploaded.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { gzipSync } from "node:zlib";

/** A control character (C0 or DEL): values that end up in unit files, YAML or script comments must not hold one. */
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** A POSIX shell single-quoted word: safe in sh, dash, bash and zsh. */
export function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The entry scripts, by the name of their file in scripts/. */
export type VmScript = "install" | "delete" | "prometheus-setup" | "external-labels";

type ScriptValue = string | number | boolean | readonly string[];
export type ScriptValues = Record<string, ScriptValue>;

const SCRIPTS_DIR = path.join(__dirname, "scripts");

/** The files under scripts/ by their path there; they are part of the program, so they are read once. */
const SCRIPT_FILES: ReadonlyMap<string, string> = new Map(
  fs
    .readdirSync(SCRIPTS_DIR, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".sh"))
    .map((name) => [name.split(path.sep).join("/"), fs.readFileSync(path.join(SCRIPTS_DIR, name), "utf8")]),
);

const SHEBANG = "#!/bin/bash";
/** The first line of every sourced file, so that shellcheck knows the shell of a file checked alone. */
const LIBRARY_FIRST_LINE = /^# shellcheck shell=bash(?: |$)/;
const SOURCE_LINE = /^source ([a-z0-9-]+(?:\/[a-z0-9-]+)*\.sh)$/;
const ANY_SOURCE_LINE = /^(?:source|\.) /;
const STUB_DIR = "values/";
/** One declaration in a stub: readonly NAME='' (text), NAME=0 (integer; booleans are 1 or 0), -a NAME=() (array). */
const DECLARATION = /^readonly (?:-a )?([A-Z][A-Z0-9_]*)=(''|0|\(\))(?: +#.*)?$/;

type ValueKind = "text" | "integer" | "array";
const DECLARED_KIND: Record<string, ValueKind> = { "''": "text", "0": "integer", "()": "array" };

/** The lines of a file under scripts/, without the empty one after its final newline. */
function scriptLines(name: string): string[] {
  const text = SCRIPT_FILES.get(name);
  if (text === undefined) throw new Error(`no script file ${name} in ${SCRIPTS_DIR}`);
  return text.replace(/\n$/, "").split("\n");
}

function kindOf(value: ScriptValue): ValueKind {
  if (typeof value === "string") return "text";
  if (typeof value === "number" || typeof value === "boolean") return "integer";
  return "array";
}

/** What a stub declares; anything but comments and declarations in it is refused. */
function stubDeclarations(stub: string): Map<string, ValueKind> {
  const declared = new Map<string, ValueKind>();
  for (const line of scriptLines(stub)) {
    if (line === "" || line.startsWith("#")) continue;
    const match = DECLARATION.exec(line);
    if (!match || (line.startsWith("readonly -a ") !== (match[2] === "()"))) throw new Error(`${stub}: not a value declaration: ${line}`);
    declared.set(match[1], DECLARED_KIND[match[2]]);
  }
  return declared;
}

/** The values must be exactly those the stub declares, each of the declared kind. */
function checkValues(script: string, stub: string, values: ScriptValues): void {
  const declared = stubDeclarations(stub);
  for (const [name, value] of Object.entries(values)) {
    const kind = declared.get(name);
    if (kind === undefined) throw new Error(`${script}: value ${name} is not declared in ${stub}`);
    if (kind !== kindOf(value)) throw new Error(`${script}: value ${name} must be ${kind}, as ${stub} declares it, not ${kindOf(value)}`);
  }
  const missing = [...declared.keys()].filter((name) => !(name in values));
  if (missing.length > 0) throw new Error(`${script}: ${stub} declares ${missing.join(", ")}, but no value was given`);
}

function assignment(name: string, value: ScriptValue): string {
  if (typeof value === "boolean") return `readonly ${name}=${value ? 1 : 0}`;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new Error(`script value ${name} must be an integer, got ${value}`);
    return `readonly ${name}=${value}`;
  }
  if (typeof value === "string") return `readonly ${name}=${shQuote(value)}`;
  return `readonly -a ${name}=(${value.map(shQuote).join(" ")})`;
}

/** Whether the code mentions the variable at all ($NAME, ${NAME...}, or bare inside (( ))). */
function references(code: string, name: string): boolean {
  return new RegExp(`(?<![A-Za-z0-9_])${name}(?![A-Za-z0-9_])`).test(code);
}

/** An entry script with its sourced files inlined, each once: the code before its values stub and after it. */
interface AssembledScript {
  entry: string;
  stub: string;
  before: string[];
  after: string[];
}

/** The code of a script: the same for every VM; only the values put in place of its stub differ. */
function assemble(script: VmScript): AssembledScript {
  const entry = `${script}.sh`;
  const lines = scriptLines(entry);
  if (lines[0] !== SHEBANG) throw new Error(`${entry} must start with ${SHEBANG}`);
  const before: string[] = [];
  const after: string[] = [];
  let stub: string | undefined;
  const inlined = new Set<string>();
  for (const line of lines) {
    const out = stub === undefined ? before : after;
    const source = SOURCE_LINE.exec(line)?.[1];
    if (source === undefined) {
      if (ANY_SOURCE_LINE.test(line)) throw new Error(`${entry}: source takes a plain path under scripts/: ${line}`);
      out.push(line);
    } else if (source.startsWith(STUB_DIR)) {
      if (stub !== undefined) throw new Error(`${entry} sources two values stubs, ${stub} and ${source}`);
      stub = source;
    } else if (!inlined.has(source)) {
      inlined.add(source);
      const [first, ...rest] = scriptLines(source);
      if (!LIBRARY_FIRST_LINE.test(first)) throw new Error(`${source} must start with "# shellcheck shell=bash"`);
      if (rest.some((restLine) => ANY_SOURCE_LINE.test(restLine))) throw new Error(`${source} sources a file: only entry scripts do`);
      out.push(`# ${source}`, ...rest);
    }
  }
  if (stub === undefined) throw new Error(`${entry} sources no values stub (${STUB_DIR}*.sh)`);
  return { entry, stub, before, after };
}

/** The values block for a script: comment lines and, when the code uses any, `{ readonly NAME=...; }`. */
function valuesBlock(assembled: AssembledScript, values: ScriptValues): string[] {
  checkValues(assembled.entry, assembled.stub, values);
  const code = [...assembled.before, ...assembled.after].join("\n");
  const header = Object.entries(values)
    .filter(([name]) => references(code, name))
    .map(([name, value]) => assignment(name, value));
  return [
    `# The values for this VM, set by thanos-global-view in place of ${assembled.stub}; the code around them is fixed.`,
    "# shellcheck disable=SC2016 # the values are literal text, $ and ` included",
    ...(header.length > 0 ? ["{", ...header, "}"] : []),
  ];
}

/**
 * One script as bash receives it: the entry with its sourced files inlined, each once, and the values in place of
 * the stub. Only the values the code uses get an assignment, so shellcheck sees no dead variables.
 */
export function renderScript(script: VmScript, values: ScriptValues): string {
  const assembled = assemble(script);
  return [...assembled.before, ...valuesBlock(assembled, values), ...assembled.after, ""].join("\n");
}

/**
 * The fixed code of a script as it travels: the entry and its sourced files without the values, without the
 * shebang and without full-line comments other than shellcheck directives (none of the scripts has a multi-line
 * string, so no such line is data). Ends with one newline.
 */
function travellingCode(assembled: AssembledScript): string {
  const keep = (line: string) => !/^\s*#/.test(line) || /^\s*# shellcheck /.test(line);
  return `${[...assembled.before.slice(1), ...assembled.after].filter(keep).join("\n")}\n`;
}

/** Code uploaded to the VM beside its command (remote.CopyToRemote), instead of travelling inside it. */
export interface UploadedCode {
  /** What to write to the file. */
  text: string;
  sha256: string;
  /** Relative to the SSH user's home directory, as SFTP resolves it. */
  remotePath: string;
}

interface RemoteCommandOptions {
  /** Run through `sudo -n` (the SSH user is not root and has passwordless sudo). */
  sudo: boolean;
  /** $0 of the script, shown in bash's own error messages. */
  name: string;
  /**
   * Upload the code to this path (relative to the SSH user's home) instead of carrying it, gzip-compressed, in the
   * command. The command string is kept in state twice (inputs and outputs): uploaded code costs it nothing.
   */
  uploadTo?: string;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** The fixed code of a script, to upload to `remotePath` (relative to the SSH user's home) for remoteCommand. */
export function uploadedCode(script: VmScript, remotePath: string): UploadedCode {
  const text = travellingCode(assemble(script));
  return { text, sha256: sha256(text), remotePath };
}

/** gzip, then base64 in lines of 76 characters; the same text always gives the same lines. */
function packed(text: string): string[] {
  return gzipSync(text, { level: 9 }).toString("base64").match(/.{1,76}/g) ?? [];
}

/** Says what went wrong, naming the VM (every script's values hold VM_NAME), and exits. */
const fail = (message: string) => `printf 'thanos-global-view: vm %s: %s\\n' "$VM_NAME" "${message}" >&2; exit 1`;

/**
 * The exact command string handed to SSH: `bash -c '<script>' <name> [<uploaded code>]`. sshd runs it with the
 * user's login shell, which may be sh, so the script travels as one single-quoted word and bash (not the login
 * shell) interprets it. The script is the VM's values, readable (a `pulumi preview --diff` shows which value
 * changed), then the fixed code: carried gzip-compressed, or uploaded beforehand and checked against its sha256.
 * Either way bash reads the code into a variable and runs that, so what runs is what was checked. It carries no
 * secrets: those come on stdin.
 */
export function remoteCommand(script: VmScript, values: ScriptValues, options: RemoteCommandOptions): string {
  const assembled = assemble(script);
  const upload = options.uploadTo === undefined ? undefined : uploadedCode(script, options.uploadTo);
  const unpack = upload
    ? [
        `# The fixed code of ${script}.sh was uploaded to the file named by $1; it runs only with sha256 ${upload.sha256}.`,
        // The dot keeps the trailing newline that $(...) would strip, so the check sees the file's every byte.
        'code=$(cat -- "$1" 2>/dev/null && echo .)',
        "code=${code%.}",
        `if [[ $(printf '%s' "$code" | sha256sum) != "${upload.sha256}  -" ]]; then`,
        `  ${fail(`$1 is missing or is not the ${script} code this stack uploaded; upload it again: pulumi up --replace the VM's install-code resource`)}`,
        "fi",
      ]
    : [
        `# The fixed code of ${script}.sh (lib/vm/scripts), gzip and base64.`,
        "code=$(base64 -d <<'CODE' | gzip -dc",
        ...packed(travellingCode(assembled)),
        "CODE",
        `) || { ${fail("cannot unpack the script: the VM needs base64 and gzip")}; }`,
      ];
  const [comment, ...block] = valuesBlock(assembled, values);
  const readByCode = "# shellcheck disable=SC2034 # the code that eval runs below reads them";
  const text = ["#!/bin/bash", comment, readByCode, ...block, ...unpack, 'eval "$code"', ""].join("\n");
  const file = upload ? ` "$HOME"/${shQuote(upload.remotePath)}` : "";
  return `${options.sudo ? "sudo -n " : ""}bash -c ${shQuote(text)} ${shQuote(options.name)}${file}`;
}
