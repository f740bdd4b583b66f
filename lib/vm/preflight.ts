/**
 * Read-only checks that run before the install changes anything on the VM. Each failure is one line on stderr,
 * naming the VM, what is wrong and the fix.
 */
import { HTTP, MESSAGES, PRELUDE, PROMETHEUS_API, REQUIREMENTS } from "./bashLib";
import { bash, type ScriptValue } from "./shell";
import { renderSidecarScript, type SidecarScriptInput } from "./sidecarScriptInput";

export const PREFLIGHT = bash`
check_prometheus() {
  check_running_prometheus die
  PROMETHEUS_TSDB_PATH=$(json_string_field "$PROMETHEUS_FLAGS" storage.tsdb.path || true)
}
# Prometheus reports its TSDB directory (relative ones depend on its working directory and are not compared).
# Another one than tsdbPath means the sidecar would ship the wrong blocks; only a warning, as Prometheus in a
# container sees its volume under another path.
check_tsdb_path() {
  local reported=$PROMETHEUS_TSDB_PATH fix="Prometheus' --storage.tsdb.path"
  [[ $reported == /* ]] || reported=""
  [[ -z $reported ]] || fix="$reported, where Prometheus keeps it"
  [[ -d $TSDB_PATH ]] || die "tsdbPath $TSDB_PATH does not exist on the VM (or is not a directory): set it to $fix"
  if [[ -n $reported && $(realpath -m -- "$reported") != "$(realpath -m -- "$TSDB_PATH")" ]]; then
    warn "Prometheus reports storage.tsdb.path=$reported but tsdbPath is $TSDB_PATH: unless Prometheus runs in a container, set tsdbPath to $reported"
  fi
}
# The sidecar writes thanos.shipper.json and hard-links block files inside the TSDB, so it runs as the TSDB's owner
# (another user fails with "operation not permitted"). A root-owned TSDB needs runAs: root spelled out.
resolve_sidecar_user() {
  local owner name_re='^[A-Za-z0-9_][A-Za-z0-9_.-]*[$]?$'
  owner=$(stat -c %U -- "$TSDB_PATH")
  if [[ -n $RUN_AS ]]; then
    id -u -- "$RUN_AS" >/dev/null 2>&1 || die "runAs user $RUN_AS does not exist on the VM"
    if [[ $RUN_AS != "$owner" ]]; then
      warn "runAs $RUN_AS does not own $TSDB_PATH (owner: $owner): the sidecar fails with 'operation not permitted' when it hard-links block files it may not write"
    fi
    SIDECAR_USER=$RUN_AS
  elif [[ $owner == root || $owner == UNKNOWN ]]; then
    die "tsdbPath $TSDB_PATH is owned by $owner; the sidecar runs as the TSDB's owner and not as root unless told: chown the TSDB to Prometheus' user, or set runAs for this VM (runAs: root works, but is not advised)"
  else
    SIDECAR_USER=$owner
  fi
  [[ $SIDECAR_USER =~ $name_re ]] || die "user name $SIDECAR_USER cannot be used in a systemd unit; set runAs"
  SIDECAR_GROUP=$(id -gn -- "$SIDECAR_USER")
}
detect_arch() {
  local machine
  machine=$(uname -m)
  # Every per-architecture value is chosen here; only the install script reads the download ones.
  # shellcheck disable=SC2034
  case $machine in
    x86_64 | amd64)
      ARCH=amd64 PINNED_SHA256=$PINNED_SHA256_AMD64
      TARBALL_URL=$TARBALL_URL_AMD64 SUMS_URL=$SUMS_URL_AMD64 TARBALL_NAME=$TARBALL_NAME_AMD64 BINARY_MEMBER=$BINARY_MEMBER_AMD64
      ;;
    aarch64 | arm64)
      ARCH=arm64 PINNED_SHA256=$PINNED_SHA256_ARM64
      TARBALL_URL=$TARBALL_URL_ARM64 SUMS_URL=$SUMS_URL_ARM64 TARBALL_NAME=$TARBALL_NAME_ARM64 BINARY_MEMBER=$BINARY_MEMBER_ARM64
      ;;
    *) die "CPU architecture $machine is not supported: Thanos publishes Linux binaries for x86_64 (amd64) and aarch64 (arm64)" ;;
  esac
}
# An installed release records its tarball's checksum; a different pinned one means config and VM disagree.
check_installed_release() {
  local recorded
  [[ -n $PINNED_SHA256 && -f $VERSION_DIR/tarball.sha256 ]] || return 0
  recorded=$(<"$VERSION_DIR/tarball.sha256")
  [[ $recorded == "$PINNED_SHA256" ]] ||
    die "thanos $THANOS_VERSION in $VERSION_DIR came from a tarball with sha256 $recorded, not the pinned $PINNED_SHA256: correct the pinned checksum, or delete $VERSION_DIR on the VM to reinstall"
}
preflight() {
  require_tools curl tar gzip sha256sum base64 flock cmp stat realpath install systemctl journalctl
  check_prometheus
  check_tsdb_path
  resolve_sidecar_user
  detect_arch
  check_installed_release
}
`;

/** The checks alone: changes nothing, needs no payload and no root. Useful before a first `pulumi up`. */
const PREFLIGHT_FUNCTIONS = [
  PRELUDE,
  MESSAGES,
  REQUIREMENTS,
  HTTP,
  PROMETHEUS_API,
  PREFLIGHT,
  bash`
main() {
  preflight
  log "preflight passed: Prometheus at $PROMETHEUS_URL has equal block durations and external labels; the sidecar would run as $SIDECAR_USER:$SIDECAR_GROUP on $ARCH"
}
`,
].join("");

export function renderPreflightScript(input: SidecarScriptInput, variables?: Record<string, ScriptValue>): string {
  return renderSidecarScript("preflight", PREFLIGHT_FUNCTIONS, input, variables);
}
