#!/bin/bash
# thanos-global-view: the sidecar's delete script. Stops and removes what the install wrote, and only when the
# ownership marker still names this stack resource: Pulumi runs a new resource's create before an old one's delete
# when a VM entry is renamed, and the newer install has rewritten the marker by then, so the stale delete leaves its
# sidecar running. lib/vm/shell.ts renders it: every `source` inlined, the values stub replaced by the VM's values.
# shellcheck source-path=SCRIPTDIR
source lib/prelude.sh
source values/sidecar.sh
source lib/messages.sh
source lib/requirements.sh
source lib/owner-marker.sh

main() {
  local token
  require_root
  take_lock
  if [[ ! -f $OWNER_MARKER_PATH ]]; then
    log "no sidecar installed by thanos-global-view here ($OWNER_MARKER_PATH is absent): nothing to remove"
    return 0
  fi
  token=$(marker_field token || true)
  if [[ $token != "$OWNER_TOKEN" ]]; then
    log "the sidecar here now belongs to $(marker_field owner || echo 'another install'), not $OWNER_LABEL: left in place"
    return 0
  fi
  require_systemd
  if [[ -f $UNIT_PATH ]]; then systemctl disable --now --quiet "$UNIT_NAME"; fi
  rm -f -- "$UNIT_PATH"
  systemctl daemon-reload
  systemctl reset-failed "$UNIT_NAME" 2>/dev/null || true
  rm -rf -- "$CONFIG_DIR" "$INSTALL_ROOT"
  # tsdbPath stays untouched, thanos.shipper.json and thanos/upload included: the TSDB is Prometheus' data, and the
  # shipper file records which blocks are already in the bucket, so a later install does not upload them twice.
  log "removed $UNIT_NAME, $CONFIG_DIR and $INSTALL_ROOT; Prometheus and its TSDB in $TSDB_PATH were not touched"
}
main
