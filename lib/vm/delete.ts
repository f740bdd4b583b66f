/**
 * The sidecar's delete script: stops and removes what the install wrote, and only when the ownership marker still
 * names this stack resource. Pulumi runs a new resource's create before an old one's delete when a VM entry is
 * renamed: the newer install has rewritten the marker by then, so the stale delete leaves its sidecar running.
 */
import { MESSAGES, OWNER_MARKER, PRELUDE, REQUIREMENTS } from "./bashLib";
import { bash, type ScriptValue } from "./shell";
import { renderSidecarScript, type SidecarScriptInput } from "./sidecarScriptInput";

const MAIN = bash`
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
`;

/** Every function of the delete script; the script itself calls main. */
export const DELETE_FUNCTIONS = [PRELUDE, MESSAGES, REQUIREMENTS, OWNER_MARKER, MAIN].join("");

export function renderDeleteScript(input: SidecarScriptInput, variables?: Record<string, ScriptValue>): string {
  return renderSidecarScript("sidecar delete", DELETE_FUNCTIONS, input, variables);
}
