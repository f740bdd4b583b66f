# shellcheck shell=bash
# systemd on the simulated VM of vm-install.test.ts: calls are logged in FAKE_DIR, and "active" and "enabled" are
# marker files there. The journal echoes FAKE_SECRET, which the scripts must hide.
systemctl() {
  printf '%s\n' "$*" >>"$FAKE_DIR/systemctl.log"
  case $1 in
    restart | start) touch "$FAKE_DIR/active" ;;
    is-active) [[ -f $FAKE_DIR/active ]] ;;
    is-enabled) [[ -f $FAKE_DIR/enabled ]] ;;
    enable) touch "$FAKE_DIR/enabled" ;;
    disable)
      rm -f "$FAKE_DIR/enabled"
      if [[ " $* " == *" --now "* ]]; then rm -f "$FAKE_DIR/active"; fi
      ;;
  esac
}
journalctl() {
  printf 'level=error msg="cannot load bucket config" secret_key=%s\nlevel=info msg="starting thanos sidecar"\n' "$FAKE_SECRET"
}
require_systemd() { :; }
