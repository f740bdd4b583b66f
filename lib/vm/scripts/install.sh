#!/bin/bash
# thanos-global-view: the sidecar's install script, used for both create and update. Idempotent: it changes only
# what differs, restarts only when the binary, unit or config changed, and puts the previous state back when the new
# one is not ready. lib/vm/shell.ts renders it: every `source` inlined, the values stub replaced by the VM's values.
# shellcheck source-path=SCRIPTDIR
source lib/prelude.sh
source values/sidecar.sh
source lib/messages.sh
source lib/requirements.sh
source lib/http.sh
source lib/prometheus.sh
source lib/external-labels.sh
source lib/journal.sh
source lib/owner-marker.sh
source lib/payload.sh
source lib/sidecar-checks.sh
source lib/exit-handler.sh

# The run's state, set by the functions below; on_exit (lib/exit-handler.sh, with APPLYING) reads it to clean up or
# roll back.
WORK=""                # this run's directory: the payload, what would be written (new/), the backup of the VM's files
STAGE=""               # a release being staged in INSTALL_ROOT, until it is renamed into place
NEW_RELEASE=0          # 1 when this run installed VERSION_DIR
CREATED_INSTALL_ROOT=0 # 1 when this run created INSTALL_ROOT
WAS_ENABLED=0          # the unit was enabled before the change
ROLLBACK_RESULT=""     # what the rollback achieved, for the error message
CHANGES=()             # what differs from the VM
# Set by main through the preflight: the sidecar's user and group, and this CPU's Thanos architecture.
SIDECAR_USER="" SIDECAR_GROUP="" ARCH=""
# Set by select_release: where ARCH's release comes from, and its pinned checksum (empty: the sums file has it).
TARBALL_URL="" SUMS_URL="" TARBALL_NAME="" BINARY_MEMBER="" PINNED_SHA256=""
# The files the install writes in CONFIG_DIR.
CONFIG_FILES=(objstore.yml tls/ca.crt tls/server.crt tls/server.key prometheus-http.yml prometheus-ca.crt)

# The release for this CPU: downloaded, verified and installed atomically, unless that version is already there.
# Picks ARCH's download values out of the two sets the stack rendered.
select_release() {
  PINNED_SHA256=$(pinned_sha256 "$ARCH")
  case $ARCH in
    amd64) TARBALL_URL=$TARBALL_URL_AMD64 SUMS_URL=$SUMS_URL_AMD64 TARBALL_NAME=$TARBALL_NAME_AMD64 BINARY_MEMBER=$BINARY_MEMBER_AMD64 ;;
    arm64) TARBALL_URL=$TARBALL_URL_ARM64 SUMS_URL=$SUMS_URL_ARM64 TARBALL_NAME=$TARBALL_NAME_ARM64 BINARY_MEMBER=$BINARY_MEMBER_ARM64 ;;
  esac
}
download() {
  curl --silent --show-error --fail --location --retry 3 --connect-timeout 15 --max-time 900 --output "$2" "$1" 2>"$WORK/curl.err" ||
    die "download of $1 failed: $(<"$WORK/curl.err")"
}
expected_sha256() {
  local sums=$WORK/sha256sums.txt sum file
  if [[ -n $PINNED_SHA256 ]]; then
    printf '%s\n' "$PINNED_SHA256"
    return 0
  fi
  download "$SUMS_URL" "$sums"
  while read -r sum file; do
    if [[ ${file#\*} == "$TARBALL_NAME" && $sum =~ ^[0-9a-f]{64}$ ]]; then
      printf '%s\n' "$sum"
      return 0
    fi
  done <"$sums"
  die "$SUMS_URL lists no sha256 for $TARBALL_NAME"
}
# Staged next to its final place, then renamed: a version directory is either complete or absent.
ensure_release() {
  local tarball expected actual
  if [[ -x $VERSION_DIR/thanos ]]; then
    log "thanos $THANOS_VERSION is already installed in $VERSION_DIR: no download"
    return 0
  fi
  tarball=$WORK/$TARBALL_NAME
  log "downloading $TARBALL_URL"
  download "$TARBALL_URL" "$tarball"
  expected=$(expected_sha256)
  actual=$(sha256sum -- "$tarball")
  actual=${actual%% *}
  [[ $actual == "$expected" ]] ||
    die "checksum mismatch for $TARBALL_URL: expected sha256 $expected, got $actual; nothing was installed and the running sidecar was left alone"
  mkdir -- "$WORK/extract"
  tar -xzf "$tarball" -C "$WORK/extract" --no-same-owner -- "$BINARY_MEMBER" 2>"$WORK/tar.err" ||
    die "$TARBALL_NAME does not hold $BINARY_MEMBER: $(<"$WORK/tar.err")"
  if [[ ! -d $INSTALL_ROOT ]]; then
    install -d -m 0755 -- "$INSTALL_ROOT"
    CREATED_INSTALL_ROOT=1
  fi
  STAGE=$(mktemp -d "$INSTALL_ROOT/.thanos-$THANOS_VERSION.XXXXXX")
  install -m 0755 -- "$WORK/extract/$BINARY_MEMBER" "$STAGE/thanos"
  printf '%s\n' "$actual" >"$STAGE/tarball.sha256"
  chmod 0644 -- "$STAGE/tarball.sha256"
  chmod 0755 -- "$STAGE"
  "$STAGE/thanos" --version >/dev/null 2>&1 || die "the downloaded thanos binary does not run on this VM ($ARCH)"
  rm -rf -- "$VERSION_DIR"
  mv -T -- "$STAGE" "$VERSION_DIR"
  STAGE=""
  NEW_RELEASE=1
  log "installed thanos $THANOS_VERSION ($ARCH, sha256 $actual) in $VERSION_DIR"
}
prune_releases() {
  local dir
  for dir in "$INSTALL_ROOT"/thanos-* "$INSTALL_ROOT"/.thanos-*; do
    if [[ -d $dir && $dir != "$VERSION_DIR" ]]; then
      rm -rf -- "$dir"
      log "removed $dir: no longer used"
    fi
  done
}

# What the install would write, staged under WORK/new, and the list of what differs from the VM.
stage_files() {
  local new=$WORK/new name
  mkdir -p -- "$new/config/tls"
  [[ -s $WORK/payload/objstore.yml ]] || die "the payload on stdin holds no objstore.yml"
  cp -- "$WORK/payload/objstore.yml" "$new/config/objstore.yml"
  if ((TLS_ENABLED)); then
    for name in ca.crt server.crt server.key; do
      [[ -s $WORK/payload/tls-$name ]] || die "TLS is on but the payload on stdin holds no tls-$name"
      cp -- "$WORK/payload/tls-$name" "$new/config/tls/$name"
    done
  fi
  if ((PROMETHEUS_CLIENT_CONFIG)); then
    [[ -s $WORK/payload/prometheus-http.yml ]] || die "Prometheus needs credentials or a CA but the payload on stdin holds no prometheus-http.yml"
    cp -- "$WORK/payload/prometheus-http.yml" "$new/config/prometheus-http.yml"
    if [[ -s $WORK/payload/prometheus-ca.crt ]]; then cp -- "$WORK/payload/prometheus-ca.crt" "$new/config/prometheus-ca.crt"; fi
  fi
  printf '%s' "${UNIT_TEMPLATE//"$UNIT_USER_PLACEHOLDER"/"$SIDECAR_USER"}" >"$new/unit"
  printf 'token=%s\nowner=%s\n' "$OWNER_TOKEN" "$OWNER_LABEL" >"$new/owner"
}
differs() { ! cmp -s -- "$1" "$2"; }
collect_changes() {
  local file
  CHANGES=()
  if ((NEW_RELEASE)); then CHANGES+=("thanos $THANOS_VERSION binary"); fi
  if differs "$WORK/new/unit" "$UNIT_PATH"; then CHANGES+=("$UNIT_PATH"); fi
  for file in "${CONFIG_FILES[@]}"; do
    if [[ -e $WORK/new/config/$file || -e $CONFIG_DIR/$file ]] && differs "$WORK/new/config/$file" "$CONFIG_DIR/$file"; then
      CHANGES+=("$CONFIG_DIR/$file")
    fi
  done
}

# Writing files: each by temp file + rename; secrets readable by the sidecar's user only.
replace_file() { # source, target, mode, owner, group
  install -m "$3" -o "$4" -g "$5" -- "$1" "$2.new"
  mv -f -- "$2.new" "$2"
}
# New directories and files start out root's alone; fix_permissions then gives them their owners and modes.
write_config() {
  local file
  install -d -m 0750 -- "$CONFIG_DIR"
  if ((TLS_ENABLED)); then
    install -d -m 0750 -- "$CONFIG_DIR/tls"
  else
    rm -rf -- "$CONFIG_DIR/tls"
  fi
  for file in "${CONFIG_FILES[@]}"; do
    if [[ -e $WORK/new/config/$file ]]; then
      replace_file "$WORK/new/config/$file" "$CONFIG_DIR/$file" 0400 root root
    else
      rm -f -- "$CONFIG_DIR/$file"
    fi
  done
  fix_permissions
}
# The owners and modes of the config: after write_config, and alone when the content has not changed (someone may
# have chmod-ed them), which needs no restart.
fix_permissions() {
  local file
  chown "root:$SIDECAR_GROUP" -- "$CONFIG_DIR"
  chmod 0750 -- "$CONFIG_DIR"
  if [[ -d $CONFIG_DIR/tls ]]; then
    chown "root:$SIDECAR_GROUP" -- "$CONFIG_DIR/tls"
    chmod 0750 -- "$CONFIG_DIR/tls"
  fi
  for file in "${CONFIG_FILES[@]}"; do
    if [[ -e $CONFIG_DIR/$file ]]; then
      chown "$SIDECAR_USER:$SIDECAR_GROUP" -- "$CONFIG_DIR/$file"
      chmod 0400 -- "$CONFIG_DIR/$file"
    fi
  done
}
# The marker names the stack resource owning this sidecar; the delete of an older owner then leaves it alone.
write_owner_marker() {
  local previous=""
  if [[ -f $OWNER_MARKER_PATH ]]; then
    if ! differs "$WORK/new/owner" "$OWNER_MARKER_PATH"; then return 0; fi
    previous=$(marker_field owner || true)
  fi
  replace_file "$WORK/new/owner" "$OWNER_MARKER_PATH" 0644 root root
  if [[ -n $previous ]]; then log "this stack resource ($OWNER_LABEL) takes the sidecar over from $previous"; fi
}

# Putting the previous state back when the new sidecar is not ready, or any step fails midway.
backup_current() {
  mkdir -- "$WORK/backup"
  if [[ -f $UNIT_PATH ]]; then cp -p -- "$UNIT_PATH" "$WORK/backup/unit"; fi
  if [[ -d $CONFIG_DIR ]]; then cp -a -- "$CONFIG_DIR" "$WORK/backup/config"; fi
  if systemctl is-enabled --quiet "$UNIT_NAME" 2>/dev/null; then WAS_ENABLED=1; fi
}
unit_uses_release() { [[ -f $UNIT_PATH && $(<"$UNIT_PATH") == *"$VERSION_DIR/"* ]]; }
# The previous unit's own readiness URL: the failed change may have moved the HTTP address.
previous_ready_url() {
  local unit address re='--http-address=([^[:space:]\\]+)'
  unit=$(<"$WORK/backup/unit")
  if ! [[ $unit =~ $re ]]; then
    printf '%s\n' "$READY_URL"
    return 0
  fi
  address=${BASH_REMATCH[1]}
  case $address in
    0.0.0.0:*) address=127.0.0.1:${address#*:} ;;
    "[::]:"*) address="[::1]:${address##*:}" ;;
  esac
  printf 'http://%s/-/ready\n' "$address"
}
restore_config() {
  rm -rf -- "$CONFIG_DIR"
  if [[ -d $WORK/backup/config ]]; then cp -a -- "$WORK/backup/config" "$CONFIG_DIR"; fi
}
rollback() {
  # Finish once started: a signal now would leave the old unit without its config. Options are restored on return,
  # so on_exit keeps running without -e and still removes the work directory (it holds the secrets).
  trap '' HUP INT TERM
  local -
  set +e
  if [[ -f $WORK/backup/unit ]]; then
    replace_file "$WORK/backup/unit" "$UNIT_PATH" 0644 root root
    restore_config
    systemctl daemon-reload
    if ((!WAS_ENABLED)); then systemctl disable --quiet "$UNIT_NAME"; fi
    if systemctl restart "$UNIT_NAME" && wait_http_ok "$(previous_ready_url)" "$READY_TIMEOUT_SECONDS"; then
      ROLLBACK_RESULT="the previous sidecar is back and ready"
    else
      ROLLBACK_RESULT="the previous unit and config are back, but that sidecar is not ready either: see journalctl -u $UNIT_NAME"
    fi
  else
    systemctl disable --now --quiet "$UNIT_NAME" 2>/dev/null
    rm -f -- "$UNIT_PATH"
    restore_config
    systemctl daemon-reload
    systemctl reset-failed "$UNIT_NAME" 2>/dev/null
    ROLLBACK_RESULT="this first install was undone: unit, config and binaries removed"
  fi
  if ((CREATED_INSTALL_ROOT)); then
    rm -rf -- "$INSTALL_ROOT"
  elif ((NEW_RELEASE)) && ! unit_uses_release; then
    rm -rf -- "$VERSION_DIR"
  fi
}
undo_change() {
  rollback
  printf 'thanos-global-view: vm %s: %s\n' "$VM_NAME" "$ROLLBACK_RESULT" >&2
}
clean_up() {
  # A failed first install leaves no INSTALL_ROOT (the rollback, if there was one, removed it already).
  if (($1 != 0 && CREATED_INSTALL_ROOT)); then rm -rf -- "$INSTALL_ROOT"; fi
  if [[ -n $STAGE ]]; then rm -rf -- "$STAGE"; fi
  if [[ -n $WORK ]]; then rm -rf -- "$WORK"; fi
}

apply_changes() {
  local started
  log "changing: $(comma_list "${CHANGES[@]}")"
  backup_current
  APPLYING=1
  write_config
  write_owner_marker
  replace_file "$WORK/new/unit" "$UNIT_PATH" 0644 root root
  systemctl daemon-reload
  systemctl enable --quiet "$UNIT_NAME"
  started=$(date '+%Y-%m-%d %H:%M:%S')
  if systemctl restart "$UNIT_NAME" && wait_http_ok "$READY_URL" "$READY_TIMEOUT_SECONDS"; then
    APPLYING=0
    log "restarted $UNIT_NAME: ready at $READY_URL (thanos $THANOS_VERSION as $SIDECAR_USER)"
    prune_releases
    if ((SETTLE_SECONDS > 0)); then
      log "waiting ${SETTLE_SECONDS}s before the next replica of this HA group changes: the querier must find this sidecar again first"
      sleep "$SETTLE_SECONDS"
    fi
    return 0
  fi
  show_journal "$UNIT_NAME" "$started" "$WORK/payload/redact"
  APPLYING=0
  rollback
  die "the sidecar did not answer $READY_URL within ${READY_TIMEOUT_SECONDS}s; $ROLLBACK_RESULT"
}
keep_running() {
  local started
  fix_permissions
  write_owner_marker
  if ! systemctl is-enabled --quiet "$UNIT_NAME"; then systemctl enable --quiet "$UNIT_NAME"; fi
  started=$(date '+%Y-%m-%d %H:%M:%S')
  if systemctl is-active --quiet "$UNIT_NAME"; then
    log "no changes: thanos $THANOS_VERSION, unit and config are up to date; the sidecar was not restarted"
  else
    log "no changes, but $UNIT_NAME was not running: starting it"
    systemctl start "$UNIT_NAME" || true
  fi
  if ! wait_http_ok "$READY_URL" "$READY_TIMEOUT_SECONDS"; then
    show_journal "$UNIT_NAME" "$started" "$WORK/payload/redact"
    die "the sidecar does not answer $READY_URL within ${READY_TIMEOUT_SECONDS}s (nothing was changed)"
  fi
  prune_releases
}
main() {
  require_root
  take_lock
  WORK=$(mktemp -d "$WORK_ROOT/thanos-global-view.XXXXXX")
  trap on_exit EXIT
  read_payload "$WORK/payload"
  use_prometheus_access "$WORK/payload"
  preflight SIDECAR_USER SIDECAR_GROUP ARCH
  select_release
  require_systemd
  stage_files
  ensure_release
  collect_changes
  if ((${#CHANGES[@]} == 0)); then
    keep_running
  else
    apply_changes
  fi
}
main
