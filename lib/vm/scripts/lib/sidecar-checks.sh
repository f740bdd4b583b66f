# shellcheck shell=bash
# The read-only checks that run before the sidecar's install changes anything on the VM. Each failure is one line on
# stderr, naming the VM, what is wrong and the fix.

# preflight USER_VAR GROUP_VAR ARCH_VAR: every check, in order; then sets the caller's variables named by the
# arguments to the sidecar's user and group and to this CPU's Thanos architecture (names other than found_*, which
# would name preflight's own locals).
preflight() {
  local found_user found_group found_arch
  require_tools curl tar gzip sha256sum base64 flock cmp stat realpath install systemctl journalctl
  check_running_prometheus die
  check_tsdb_path "$(reported_tsdb_path)"
  found_user=$(sidecar_user)
  found_group=$(id -gn -- "$found_user")
  found_arch=$(thanos_arch)
  check_installed_release "$(pinned_sha256 "$found_arch")"
  printf -v "$1" '%s' "$found_user"
  printf -v "$2" '%s' "$found_group"
  printf -v "$3" '%s' "$found_arch"
}
# check_tsdb_path REPORTED: tsdbPath must be a directory. Prometheus reports its TSDB directory (REPORTED; relative
# ones depend on its working directory and are not compared). Another one than tsdbPath means the sidecar would ship
# the wrong blocks; only a warning, as Prometheus in a container sees its volume under another path.
check_tsdb_path() {
  local reported=$1 fix="Prometheus' --storage.tsdb.path"
  [[ $reported == /* ]] || reported=""
  [[ -z $reported ]] || fix="$reported, where Prometheus keeps it"
  [[ -d $TSDB_PATH ]] || die "tsdbPath $TSDB_PATH does not exist on the VM (or is not a directory): set it to $fix"
  if [[ -n $reported && $(realpath -m -- "$reported") != "$(realpath -m -- "$TSDB_PATH")" ]]; then
    warn "Prometheus reports storage.tsdb.path=$reported but tsdbPath is $TSDB_PATH: unless Prometheus runs in a container, set tsdbPath to $reported"
  fi
}
# Prints the sidecar's user. The sidecar writes thanos.shipper.json and hard-links block files inside the TSDB, so it
# runs as the TSDB's owner (another user fails with "operation not permitted"). A root-owned TSDB needs runAs: root
# spelled out.
sidecar_user() {
  local owner user name_re='^[A-Za-z0-9_][A-Za-z0-9_.-]*[$]?$'
  owner=$(stat -c %U -- "$TSDB_PATH")
  if [[ -n $RUN_AS ]]; then
    id -u -- "$RUN_AS" >/dev/null 2>&1 || die "runAs user $RUN_AS does not exist on the VM"
    if [[ $RUN_AS != "$owner" ]]; then
      warn "runAs $RUN_AS does not own $TSDB_PATH (owner: $owner): the sidecar fails with 'operation not permitted' when it hard-links block files it may not write"
    fi
    user=$RUN_AS
  elif [[ $owner == root || $owner == UNKNOWN ]]; then
    die "tsdbPath $TSDB_PATH is owned by $owner; the sidecar runs as the TSDB's owner and not as root unless told: chown the TSDB to Prometheus' user, or set runAs for this VM (runAs: root works, but is not advised)"
  else
    user=$owner
  fi
  [[ $user =~ $name_re ]] || die "user name $user cannot be used in a systemd unit; set runAs"
  printf '%s\n' "$user"
}
# Prints this CPU as Thanos names its Linux releases.
thanos_arch() {
  local machine
  machine=$(uname -m)
  case $machine in
    x86_64 | amd64) printf 'amd64\n' ;;
    aarch64 | arm64) printf 'arm64\n' ;;
    *) die "CPU architecture $machine is not supported: Thanos publishes Linux binaries for x86_64 (amd64) and aarch64 (arm64)" ;;
  esac
}
# Prints the tarball sha256 pinned for architecture $1; nothing when none is pinned (the release's sums file decides).
pinned_sha256() {
  case $1 in
    amd64) printf '%s\n' "$PINNED_SHA256_AMD64" ;;
    arm64) printf '%s\n' "$PINNED_SHA256_ARM64" ;;
  esac
}
# check_installed_release PINNED: an installed release records its tarball's checksum; another pinned one means
# config and VM disagree.
check_installed_release() {
  local pinned=$1 recorded
  [[ -n $pinned && -f $VERSION_DIR/tarball.sha256 ]] || return 0
  recorded=$(<"$VERSION_DIR/tarball.sha256")
  [[ $recorded == "$pinned" ]] ||
    die "thanos $THANOS_VERSION in $VERSION_DIR came from a tarball with sha256 $recorded, not the pinned $pinned: correct the pinned checksum, or delete $VERSION_DIR on the VM to reinstall"
}
