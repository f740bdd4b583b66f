# shellcheck shell=bash
# Every line names the VM (VM_NAME), so a failed `pulumi up` across many VMs says which one; errors go to stderr.
log() { printf 'thanos-global-view: vm %s: %s\n' "$VM_NAME" "$*"; }
warn() { printf 'thanos-global-view: vm %s: warning: %s\n' "$VM_NAME" "$*" >&2; }
die() {
  printf 'thanos-global-view: vm %s: %s\n' "$VM_NAME" "$*" >&2
  exit 1
}
# Prints the arguments joined by ", ".
comma_list() {
  local text
  text=$(printf '%s, ' "$@")
  printf '%s' "${text%, }"
}
