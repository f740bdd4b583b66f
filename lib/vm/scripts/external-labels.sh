#!/bin/bash
# thanos-global-view: prints the external labels of the VM's Prometheus, for the stack's check that no two
# Prometheus servers of the fleet share a label set (it runs before any sidecar of the change starts). Reads only:
# Prometheus' /api/v1/status/config, with the credentials and CA on stdin. lib/vm/shell.ts renders it: every `source`
# inlined, the values stub replaced by the VM's values.
# shellcheck source-path=SCRIPTDIR
source lib/prelude.sh
source values/external-labels.sh
source lib/messages.sh
source lib/requirements.sh
source lib/http.sh
source lib/external-labels.sh
source lib/payload.sh

WORK=""
main() {
  local config block
  require_tools curl base64 mktemp
  WORK=$(mktemp -d "$WORK_ROOT/thanos-global-view-labels.XXXXXX")
  trap 'rm -rf -- "$WORK"' EXIT
  if [[ -n $CONFIGURED_LABELS ]]; then log "configurePrometheus sets the external labels $CONFIGURED_LABELS"; fi
  read_payload "$WORK/payload"
  use_prometheus_access "$WORK/payload"
  config=$(fetch "${PROMETHEUS_URL%/}/api/v1/status/config") ||
    die "Prometheus does not answer at ${PROMETHEUS_URL%/}/api/v1/status/config ($config): check prometheusUrl, its credentials, and that Prometheus is running"
  block=$(external_labels_block "$config") ||
    die "Prometheus at $PROMETHEUS_URL has no external_labels; the sidecar refuses to run without labels that identify this Prometheus. Fix: add them under global: in prometheus.yml, or set configurePrometheus for this VM"
  log "external labels: $block"
}
main
