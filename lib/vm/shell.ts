/**
 * Building blocks for the bash run on VMs. Script bodies are constant text; every configured value enters through
 * a quoted `readonly` assignment at the top (renderScript), so no value can change a script's syntax.
 */

/** A control character (C0 or DEL): values that end up in unit files, YAML or script comments must not hold one. */
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** A POSIX shell single-quoted word: safe in sh, dash, bash and zsh. */
export function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Template tag for bash text written inside TypeScript: the text is taken raw (backslashes stay as written), and
 * `\${` and `` \` `` become `${` and `` ` ``. It takes no substitutions, so values cannot slip into a body.
 */
export function bash(strings: TemplateStringsArray): string {
  return strings.raw.join("").replace(/\\\$\{/g, "${").replace(/\\`/g, "`");
}

export type ScriptValue = string | number | boolean | readonly string[];

const VARIABLE_NAME = /^[A-Z][A-Z0-9_]*$/;

function assignment(name: string, value: ScriptValue): string {
  if (!VARIABLE_NAME.test(name)) throw new Error(`bad script variable name ${name}`);
  if (typeof value === "boolean") return `readonly ${name}=${value ? 1 : 0}`;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new Error(`script variable ${name} must be an integer, got ${value}`);
    return `readonly ${name}=${value}`;
  }
  if (typeof value === "string") return `readonly ${name}=${shQuote(value)}`;
  return `readonly -a ${name}=(${value.map(shQuote).join(" ")})`;
}

/** Whether the body mentions the variable at all ($NAME, ${NAME...}, or bare inside (( ))). */
function references(body: string, name: string): boolean {
  return new RegExp(`(?<![A-Za-z0-9_])${name}(?![A-Za-z0-9_])`).test(body);
}

/**
 * A complete script: the title comment, then one quoted assignment per variable the body uses (unused ones are left
 * out, so shellcheck sees no dead variables), then the body.
 */
export function renderScript(title: string, variables: Record<string, ScriptValue>, body: string): string {
  const header = Object.entries(variables)
    .filter(([name]) => references(body, name))
    .map(([name, value]) => assignment(name, value));
  const comment = title.replace(new RegExp(CONTROL_CHARACTERS.source, "g"), " ");
  return [
    "#!/bin/bash",
    `# ${comment}`,
    "# Rendered by thanos-global-view: values are set here, the code below is fixed.",
    "# shellcheck disable=SC2016 # the values are literal text, $ and ` included",
    "{",
    ...header,
    "}",
    body,
  ].join("\n");
}

interface RemoteCommandOptions {
  /** Run through `sudo -n` (the SSH user is not root and has passwordless sudo). */
  sudo: boolean;
  /** $0 of the script, shown in bash's own error messages. */
  name: string;
}

/**
 * The exact command string handed to SSH: `bash -c '<script>' <name>`. sshd runs it with the user's login shell,
 * which may be sh, so the script travels as one single-quoted word and bash (not the login shell) interprets it.
 * It carries no secrets: those come on stdin.
 */
export function remoteCommand(script: string, options: RemoteCommandOptions): string {
  return `${options.sudo ? "sudo -n " : ""}bash -c ${shQuote(script)} ${shQuote(options.name)}`;
}
