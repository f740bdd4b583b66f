# shellcheck shell=bash
# What a script needs of the VM before it changes anything; each missing piece dies (messages.sh) naming the fix.
require_root() {
  [[ $EUID -eq 0 ]] || die "must run as root: connect as root, or give the SSH user passwordless sudo"
}
require_tools() {
  local tool missing=()
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  ((${#missing[@]} == 0)) || die "missing tools on the VM: ${missing[*]} (Debian/Ubuntu packages: curl tar gzip coreutils diffutils util-linux systemd)"
}
require_systemd() {
  [[ -d /run/systemd/system ]] || die "systemd is not running on this VM (no /run/systemd/system): the sidecar runs as a systemd service"
}
# One run at a time per VM (LOCK_PATH): two stacks, or a replacement's create racing the old delete.
take_lock() {
  # Checked here, as the lock comes before the scripts' own tool checks: a missing flock is not a held lock.
  require_tools flock
  exec 9>"$LOCK_PATH"
  flock --wait 600 9 || die "another thanos-global-view run on this VM has held $LOCK_PATH for 10 minutes"
}
