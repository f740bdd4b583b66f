# shellcheck shell=bash
# What the Prometheus setup calls on the VM, for vm-prometheus-setup.test.ts: systemctl and promtool log their calls
# in FAKE_DIR; promtool rejects the config while FAKE_DIR/promtool-rejects exists. Root and systemd are not checked.
systemctl() { printf '%s\n' "$*" >>"$FAKE_DIR/systemctl.log"; }
journalctl() { printf 'level=error msg="prometheus failed"\n'; }
promtool() {
  printf '%s\n' "$*" >>"$FAKE_DIR/promtool.log"
  if [[ -f $FAKE_DIR/promtool-rejects ]]; then
    printf 'FAILED: parsing YAML file %s: yaml: line 3: did not find expected key\n' "$3"
    return 1
  fi
}
require_root() { :; }
require_systemd() { :; }
