#!/bin/bash
# thanos-global-view: the opt-in setup of a Debian/Ubuntu packaged Prometheus for the sidecar (configurePrometheus):
# equal min/max block durations in /etc/default/prometheus (ARGS) and external labels under `global:` in
# /etc/prometheus/prometheus.yml. It only adds what is missing (and replaces the placeholder labels of Debian's sample
# config); a different value already there is the user's to change by hand. Every edited file gets a timestamped
# backup, an edited prometheus.yml must pass `promtool check config` before it replaces the original, and Prometheus
# restarts only when something changed (and comes back from the backups if it then does not get ready). Deleting the
# stack leaves these settings in place: they are Prometheus', not the sidecar's. lib/vm/shell.ts renders it: every
# `source` inlined, the values stub replaced by the VM's values.
# shellcheck source-path=SCRIPTDIR
source lib/prelude.sh
source values/prometheus-setup.sh
source lib/messages.sh
source lib/requirements.sh
source lib/http.sh
source lib/prometheus.sh
source lib/external-labels.sh
source lib/journal.sh
source lib/payload.sh
source lib/exit-handler.sh

readonly CANDIDATE_SUFFIX=.thanos-global-view.new
readonly DEBIAN_SAMPLE_LABELS=monitor=example
readonly WANTED_FLAGS="--storage.tsdb.min-block-duration=$BLOCK_DURATION --storage.tsdb.max-block-duration=$BLOCK_DURATION"
# The run's state, set by the functions below.
NEW_ARGS=""        # the ARGS of DEFAULTS_FILE as they should be
EDITED=()          # the files with a candidate beside them
BACKUPS=()         # their backups, once installed
LINES=()           # PROMETHEUS_CONFIG, one element a line
EXISTING_LABELS="" # the external labels already there, sorted name=value lines
LABELS_END=0       # the index of the line after them
WORK=""            # this run's directory: the payload (Prometheus' credentials and CA)

# The block durations, in DEFAULTS_FILE's ARGS.
# Reads the one ARGS="..." line into NEW_ARGS; other forms (several lines, quotes inside) are left to the user.
read_args() {
  local line re='^ARGS="([^"]*)"[[:space:]]*$' found=0
  while IFS= read -r line || [[ -n $line ]]; do
    [[ $line =~ ^[[:space:]]*ARGS= ]] || continue
    ((found == 0)) || die "$DEFAULTS_FILE sets ARGS more than once: add $WANTED_FLAGS by hand"
    [[ $line =~ $re ]] || die "$DEFAULTS_FILE has an ARGS line this tool does not edit ($line): add $WANTED_FLAGS by hand"
    NEW_ARGS=${BASH_REMATCH[1]}
    found=1
  done <"$DEFAULTS_FILE"
}
# Appends --$1=BLOCK_DURATION to NEW_ARGS unless the flag is there; with another value it is the user's call.
add_flag() {
  local re="(^|[[:space:]])--${1//./[.]}(=|[[:space:]]+)([^[:space:]]+)"
  if [[ $NEW_ARGS =~ $re ]]; then
    [[ ${BASH_REMATCH[3]} == "$BLOCK_DURATION" ]] ||
      die "$DEFAULTS_FILE already sets --$1=${BASH_REMATCH[3]}, not $BLOCK_DURATION: edit it by hand ($WANTED_FLAGS), then run again"
  else
    NEW_ARGS="${NEW_ARGS:+$NEW_ARGS }--$1=$BLOCK_DURATION"
  fi
}
render_defaults() {
  local line replaced=0
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line =~ ^[[:space:]]*ARGS= ]]; then
      printf 'ARGS="%s"\n' "$NEW_ARGS"
      replaced=1
    else
      printf '%s\n' "$line"
    fi
  done <"$DEFAULTS_FILE"
  if ((!replaced)); then printf 'ARGS="%s"\n' "$NEW_ARGS"; fi
}
plan_flags() {
  local before
  read_args
  before=$NEW_ARGS
  add_flag storage.tsdb.min-block-duration
  add_flag storage.tsdb.max-block-duration
  [[ $NEW_ARGS != "$before" ]] || return 0
  new_candidate "$DEFAULTS_FILE"
  render_defaults >"$DEFAULTS_FILE$CANDIDATE_SUFFIX"
}

# The external labels, in PROMETHEUS_CONFIG.
# An existing label value as a plain string: quotes and a trailing comment removed.
yaml_scalar() {
  local raw=$1 dq='^"([^"\\]*)"[[:space:]]*(#.*)?$' sq="^'([^']*)'[[:space:]]*(#.*)?\$"
  if [[ $raw =~ $dq || $raw =~ $sq ]]; then
    printf '%s' "${BASH_REMATCH[1]}"
    return 0
  fi
  raw=${raw%%[[:space:]]#*}
  printf '%s' "${raw%"${raw##*[![:space:]]}"}"
}
# Reads the block-style external_labels at line $1: EXISTING_LABELS gets sorted name=value lines, LABELS_END the
# index after the last label. Flow style ({...}) is left to the user.
read_existing_labels() {
  local i indent name value found=() item='^([[:space:]]+)([A-Za-z_][A-Za-z0-9_]*):[[:space:]]*(.*)$'
  [[ ${LINES[$1]} =~ ^([[:space:]]*)external_labels:[[:space:]]*(#.*)?$ ]] ||
    die "$PROMETHEUS_CONFIG writes external_labels in a form this tool does not read: make them $WANTED_LABELS by hand"
  indent=${#BASH_REMATCH[1]}
  LABELS_END=$(($1 + 1))
  for ((i = $1 + 1; i < ${#LINES[@]}; i++)); do
    if [[ ${LINES[i]} =~ ^[[:space:]]*(#.*)?$ ]]; then continue; fi
    if ! [[ ${LINES[i]} =~ $item ]] || ((${#BASH_REMATCH[1]} <= indent)); then break; fi
    name=${BASH_REMATCH[2]} value=${BASH_REMATCH[3]}
    found+=("$name=$(yaml_scalar "$value")")
    LABELS_END=$((i + 1))
  done
  EXISTING_LABELS=$(printf '%s\n' ${found[@]+"${found[@]}"} | sort)
}
wanted_labels() {
  local i
  for i in "${!LABEL_NAMES[@]}"; do printf '%s=%s\n' "${LABEL_NAMES[i]}" "${LABEL_VALUES[i]}"; done
}
# Labels already there must be exactly the wanted ones: they identify this Prometheus in every query and block.
# The one exception is the placeholder {monitor: 'example'} of Debian's sample prometheus.yml, which is replaced.
plan_existing_labels() {
  local want
  read_existing_labels "$1"
  want=$(wanted_labels | sort)
  [[ $EXISTING_LABELS != "$want" ]] || return 0
  [[ $EXISTING_LABELS == "$DEBIAN_SAMPLE_LABELS" ]] ||
    die "$PROMETHEUS_CONFIG already has other external_labels (${EXISTING_LABELS//$'\n'/, }) than the wanted $WANTED_LABELS: edit them by hand, then run again"
  log "replacing the external_labels of Debian's sample config (monitor: example) with $WANTED_LABELS"
  new_candidate "$PROMETHEUS_CONFIG"
  replace_labels "$1" "$LABELS_END" >"$PROMETHEUS_CONFIG$CANDIDATE_SUFFIX"
  check_candidate_config "$PROMETHEUS_CONFIG$CANDIDATE_SUFFIX"
}
label_block() {
  local i
  printf '%sexternal_labels:\n' "$1"
  for i in "${!LABEL_NAMES[@]}"; do printf '%s%s%s: %s\n' "$1" "$1" "${LABEL_NAMES[i]}" "${LABEL_YAML[i]}"; done
}
# The indentation global:'s first entry uses, so the inserted block matches the file's style.
child_indent() {
  local i
  for ((i = $1 + 1; i < ${#LINES[@]}; i++)); do
    if [[ ${LINES[i]} =~ ^[[:space:]]*(#.*)?$ ]]; then continue; fi
    if [[ ${LINES[i]} =~ ^([[:space:]]+) ]]; then
      printf '%s' "${BASH_REMATCH[1]}"
      return 0
    fi
    break
  done
  printf '  '
}
replace_labels() { # the lines [$1, $2) hold the labels to replace
  local i
  [[ ${LINES[$1]} =~ ^([[:space:]]*) ]]
  local indent=${BASH_REMATCH[1]}
  for i in "${!LINES[@]}"; do
    if ((i == $1)); then label_block "$indent"; fi
    if ((i < $1 || i >= $2)); then printf '%s\n' "${LINES[i]}"; fi
  done
}
render_config() { # global: line index or -1
  local i indent
  if (($1 < 0)); then
    printf 'global:\n'
    label_block '  '
    printf '%s\n' "${LINES[@]}"
    return 0
  fi
  indent=$(child_indent "$1")
  for i in "${!LINES[@]}"; do
    printf '%s\n' "${LINES[i]}"
    if ((i == $1)); then label_block "$indent"; fi
  done
}
plan_labels() {
  local i global=-1
  mapfile -t LINES <"$PROMETHEUS_CONFIG"
  for i in "${!LINES[@]}"; do
    if [[ ${LINES[i]} =~ ^[[:space:]]*external_labels: ]]; then
      plan_existing_labels "$i"
      return 0
    fi
  done
  for i in "${!LINES[@]}"; do
    if [[ ${LINES[i]} =~ ^global:[[:space:]]*(#.*)?$ ]]; then
      global=$i
      break
    fi
    [[ ! ${LINES[i]} =~ ^global: ]] || die "$PROMETHEUS_CONFIG writes global: in flow style: add external_labels: $WANTED_LABELS by hand"
  done
  new_candidate "$PROMETHEUS_CONFIG"
  render_config "$global" >"$PROMETHEUS_CONFIG$CANDIDATE_SUFFIX"
  check_candidate_config "$PROMETHEUS_CONFIG$CANDIDATE_SUFFIX"
}
# Checked before it replaces anything, so a rejected edit leaves the original untouched.
check_candidate_config() {
  local out
  out=$(promtool check config "$1" 2>&1) ||
    die "promtool rejects $PROMETHEUS_CONFIG with external_labels added, so nothing was changed: ${out//$'\n'/; }"
}

# A copy beside the original (same owner and mode), filled by the caller, renamed over the original on apply.
new_candidate() {
  cp -p -- "$1" "$1$CANDIDATE_SUFFIX"
  EDITED+=("$1")
}
remove_candidates() {
  local file
  for file in ${EDITED[@]+"${EDITED[@]}"}; do rm -f -- "$file$CANDIDATE_SUFFIX"; done
}
install_candidates() {
  local file stamp
  stamp=$(date +%Y%m%dT%H%M%S)
  for file in "${EDITED[@]}"; do
    cp -p -- "$file" "$file.thanos-global-view-$stamp.bak"
    BACKUPS+=("$file.thanos-global-view-$stamp.bak")
    mv -f -- "$file$CANDIDATE_SUFFIX" "$file"
  done
  log "edited $(comma_list "${EDITED[@]}") (backups: $(comma_list "${BACKUPS[@]}"))"
}
restore_backups() {
  local i
  # Only the files already replaced have a backup (a signal may cut install_candidates short).
  for i in "${!BACKUPS[@]}"; do cp -p -- "${BACKUPS[i]}" "${EDITED[i]}"; done
}
restart_prometheus() {
  local started
  started=$(date '+%Y-%m-%d %H:%M:%S')
  if systemctl restart "$PROMETHEUS_UNIT" && wait_http_ok "${PROMETHEUS_URL%/}/-/ready" "$READY_TIMEOUT_SECONDS" ${PROMETHEUS_CURL[@]+"${PROMETHEUS_CURL[@]}"}; then
    return 0
  fi
  show_journal "$PROMETHEUS_UNIT" "$started" "$WORK/payload/redact"
  return 1
}
# After a restart the running Prometheus must show what the files now say; if not, it does not read these files.
verify_running() {
  check_running_prometheus warn ||
    die "restarted $PROMETHEUS_UNIT, but the Prometheus at $PROMETHEUS_URL still does not run with $WANTED_FLAGS and external labels $WANTED_LABELS (warning above): check that prometheusUrl is this VM's packaged Prometheus and that $PROMETHEUS_UNIT reads $DEFAULTS_FILE"
}
# APPLYING is set while Prometheus' files are the edited ones and not yet known to work: an exit then (a dropped SSH
# session, a cancelled up) puts the backups back and restarts Prometheus on them.
undo_change() {
  restore_backups
  if restart_prometheus; then
    log "interrupted: restored $(comma_list "${EDITED[@]}") from the backups; Prometheus runs on them again"
  else
    log "interrupted: restored $(comma_list "${EDITED[@]}") from the backups, but Prometheus is not ready on them: see journalctl -u $PROMETHEUS_UNIT"
  fi
}
clean_up() {
  remove_candidates
  if [[ -n $WORK ]]; then rm -rf -- "$WORK"; fi
}
main() {
  require_root
  take_lock
  require_tools curl systemctl journalctl promtool sort cp mv date
  require_systemd
  [[ -f $DEFAULTS_FILE && -f $PROMETHEUS_CONFIG ]] ||
    die "configurePrometheus handles the Debian/Ubuntu prometheus package ($DEFAULTS_FILE and $PROMETHEUS_CONFIG), not found here: set $WANTED_FLAGS and external_labels $WANTED_LABELS by hand, and turn configurePrometheus off"
  WORK=$(mktemp -d "$WORK_ROOT/thanos-global-view-setup.XXXXXX")
  trap on_exit EXIT
  read_payload "$WORK/payload"
  use_prometheus_access "$WORK/payload"
  plan_flags
  plan_labels
  if ((${#EDITED[@]} == 0)); then
    if check_running_prometheus true; then
      log "Prometheus already has $WANTED_FLAGS and external labels: nothing changed"
      return 0
    fi
    log "$DEFAULTS_FILE and $PROMETHEUS_CONFIG are right, but the running Prometheus is not: restarting $PROMETHEUS_UNIT"
    restart_prometheus || die "$PROMETHEUS_UNIT did not get ready at $PROMETHEUS_URL within ${READY_TIMEOUT_SECONDS}s"
    verify_running
    return 0
  fi
  APPLYING=1
  install_candidates
  if restart_prometheus; then
    APPLYING=0
    verify_running
    log "restarted $PROMETHEUS_UNIT with $WANTED_FLAGS and external labels $WANTED_LABELS: ready"
    return 0
  fi
  APPLYING=0
  restore_backups
  if restart_prometheus; then
    die "Prometheus did not get ready with the new settings within ${READY_TIMEOUT_SECONDS}s; restored $(comma_list "${EDITED[@]}") from the backups and it runs again"
  fi
  die "Prometheus did not get ready with the new settings within ${READY_TIMEOUT_SECONDS}s; restored $(comma_list "${EDITED[@]}") from the backups, but it is not ready either: see journalctl -u $PROMETHEUS_UNIT"
}
main
