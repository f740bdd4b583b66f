#!/bin/bash
# thanos-global-view: the install's read-only checks alone. Changes nothing, needs no payload and no root; useful
# before a first `pulumi up`. lib/vm/shell.ts renders it: every `source` inlined, the values stub replaced by the
# VM's values.
# shellcheck source-path=SCRIPTDIR
source lib/prelude.sh
source values/sidecar.sh
source lib/messages.sh
source lib/requirements.sh
source lib/http.sh
source lib/prometheus.sh
source lib/sidecar-checks.sh

main() {
  local user group arch
  preflight user group arch
  log "preflight passed: Prometheus at $PROMETHEUS_URL has equal block durations and external labels; the sidecar would run as $user:$group on $arch"
}
main
