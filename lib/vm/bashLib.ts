/** Bash functions shared by the VM scripts. Each constant is a self-contained piece that scripts concatenate. */
import { bash } from "./shell";

/**
 * Strict mode, a private umask (secrets are written), a predictable locale and PATH (sudo and root logins differ).
 * A dropped SSH session (HUP), Ctrl-C or TERM becomes a plain exit, so EXIT traps still clean up or roll back, and a
 * closed stdout makes writes fail (and the script exit through its trap) instead of killing it mid-change.
 */
export const PRELUDE = bash`
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true
umask 077
export LC_ALL=C
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
trap '' PIPE
`;

/** Every line names the VM, so a failed `pulumi up` across many VMs says which one; errors go to stderr. */
export const MESSAGES = bash`
log() { printf 'thanos-global-view: vm %s: %s\n' "$VM_NAME" "$*"; }
warn() { printf 'thanos-global-view: vm %s: warning: %s\n' "$VM_NAME" "$*" >&2; }
die() {
  printf 'thanos-global-view: vm %s: %s\n' "$VM_NAME" "$*" >&2
  exit 1
}
comma_list() {
  local text
  text=$(printf '%s, ' "$@")
  printf '%s' "\${text%, }"
}
`;

export const REQUIREMENTS = bash`
require_root() {
  [[ $EUID -eq 0 ]] || die "must run as root: connect as root, or give the SSH user passwordless sudo"
}
require_tools() {
  local tool missing=()
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  ((\${#missing[@]} == 0)) || die "missing tools on the VM: \${missing[*]} (Debian/Ubuntu packages: curl tar gzip coreutils diffutils util-linux systemd)"
}
require_systemd() {
  [[ -d /run/systemd/system ]] || die "systemd is not running on this VM (no /run/systemd/system): the sidecar runs as a systemd service"
}
# One run at a time per VM: two stacks, or a replacement's create racing the old delete.
take_lock() {
  # Checked here, as the lock comes before the scripts' own tool checks: a missing flock is not a held lock.
  require_tools flock
  exec 9>"$LOCK_PATH"
  flock --wait 600 9 || die "another thanos-global-view run on this VM has held $LOCK_PATH for 10 minutes"
}
`;

export const HTTP = bash`
# GETs a URL and prints the body; on failure prints curl's one-line reason instead, and fails.
fetch() {
  curl --silent --show-error --fail --location --max-time 10 "$1" 2>&1
}
# Polls a URL until it answers 2xx, for at most $2 seconds.
wait_http_ok() {
  local deadline=$((SECONDS + $2))
  until curl --silent --fail --max-time 5 --output /dev/null "$1"; do
    ((SECONDS < deadline)) || return 1
    sleep 1
  done
}
`;

/** No jq or python on a VM: the two Prometheus answers we read are flat enough for bash regexes. */
export const PROMETHEUS_API = bash`
# Prints the string value of the first "key":"value" pair in a JSON text; fails when there is none.
json_string_field() {
  local re="\"\${2//./[.]}\"[[:space:]]*:[[:space:]]*\"([^\"]*)\""
  [[ $1 =~ $re ]] || return 1
  printf '%s\n' "\${BASH_REMATCH[1]}"
}
# /api/v1/status/config carries the YAML as one JSON string ("global:\n  external_labels:\n    cluster: a\n...");
# labels exist when an indented line follows "external_labels:" (an empty set is omitted or written as {}).
has_external_labels() {
  local re='\\n( *)external_labels:\\n( *)[^ \\]'
  [[ $1 =~ $re ]] && ((\${#BASH_REMATCH[2]} > \${#BASH_REMATCH[1]}))
}
# Checks the running Prometheus: it answers, runs with equal min and max block durations, and has external labels.
# On the first problem it runs "$1" with the reason (die, or true to only fail) and fails. Keeps the flags answer in
# PROMETHEUS_FLAGS.
check_running_prometheus() {
  local report=$1 base=\${PROMETHEUS_URL%/} config min max
  # shellcheck disable=SC2034 # not every script reads PROMETHEUS_FLAGS
  if ! PROMETHEUS_FLAGS=$(fetch "$base/api/v1/status/flags"); then
    "$report" "Prometheus does not answer at $PROMETHEUS_URL ($PROMETHEUS_FLAGS): check prometheusUrl and that Prometheus is running"
    return 1
  fi
  if ! min=$(json_string_field "$PROMETHEUS_FLAGS" storage.tsdb.min-block-duration); then
    "$report" "$base/api/v1/status/flags shows no storage.tsdb.min-block-duration: is $PROMETHEUS_URL a Prometheus server (not an agent)?"
    return 1
  fi
  if ! max=$(json_string_field "$PROMETHEUS_FLAGS" storage.tsdb.max-block-duration); then
    "$report" "$base/api/v1/status/flags shows no storage.tsdb.max-block-duration: is $PROMETHEUS_URL a Prometheus server (not an agent)?"
    return 1
  fi
  if [[ $min != "$max" ]]; then
    "$report" "Prometheus runs with storage.tsdb.min-block-duration=$min but storage.tsdb.max-block-duration=$max; the Thanos sidecar needs both equal (local compaction off) or it never becomes ready. Fix: start Prometheus with --storage.tsdb.min-block-duration=2h --storage.tsdb.max-block-duration=2h (Debian/Ubuntu: ARGS in /etc/default/prometheus), or set configurePrometheus for this VM"
    return 1
  fi
  if ! config=$(fetch "$base/api/v1/status/config"); then
    "$report" "Prometheus does not answer at $base/api/v1/status/config ($config)"
    return 1
  fi
  if ! has_external_labels "$config"; then
    "$report" "Prometheus at $PROMETHEUS_URL has no external_labels; the sidecar refuses to run without labels that identify this Prometheus. Fix: add them under global: in prometheus.yml (e.g. external_labels: {cluster: $VM_NAME}) and restart Prometheus, or set configurePrometheus for this VM"
    return 1
  fi
}
`;

export const JOURNAL = bash`
REDACT=()
# Hides every line that holds one of REDACT's values: a unit's log could echo its config.
redact_secrets() {
  local line secret hide
  while IFS= read -r line; do
    hide=0
    for secret in \${REDACT[@]+"\${REDACT[@]}"}; do
      if [[ -n $secret && $line == *"$secret"* ]]; then hide=1; fi
    done
    if ((hide)); then printf '%s\n' '[line hidden: it held a secret]'; else printf '%s\n' "$line"; fi
  done
}
# The last journal lines of unit $1 since time $2, on stderr: they explain a failed start in the pulumi error.
show_journal() {
  printf 'thanos-global-view: vm %s: last journal lines of %s:\n' "$VM_NAME" "$1" >&2
  journalctl --unit "$1" --since "$2" --lines 30 --no-pager --output short-iso 2>&1 | redact_secrets >&2 || true
}
`;

/** The ownership marker: which stack resource installed the sidecar (token, and a readable owner label). */
export const OWNER_MARKER = bash`
# Prints field $1 (token or owner) of the marker; fails when the marker or the field is missing.
marker_field() {
  local line
  [[ -f $OWNER_MARKER_PATH ]] || return 1
  while IFS= read -r line; do
    if [[ $line == "$1="* ]]; then
      printf '%s\n' "\${line#*=}"
      return 0
    fi
  done <"$OWNER_MARKER_PATH"
  return 1
}
`;
