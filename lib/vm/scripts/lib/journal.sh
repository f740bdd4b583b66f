# shellcheck shell=bash
# A failed start's journal lines, for the pulumi error; lines that hold a secret are hidden.

# redact_secrets [SECRETS_FILE]: copies stdin to stdout, each line that holds one of the file's lines (the secrets)
# replaced by a notice: a unit's log could echo its config.
redact_secrets() {
  local line secret hide secrets=()
  if [[ -s ${1:-} ]]; then mapfile -t secrets <"$1"; fi
  while IFS= read -r line; do
    hide=0
    for secret in ${secrets[@]+"${secrets[@]}"}; do
      if [[ -n $secret && $line == *"$secret"* ]]; then hide=1; fi
    done
    if ((hide)); then printf '%s\n' '[line hidden: it held a secret]'; else printf '%s\n' "$line"; fi
  done
}
# show_journal UNIT SINCE [SECRETS_FILE]: the last journal lines of UNIT since SINCE, on stderr, those holding a
# secret hidden: they explain a failed start in the pulumi error.
show_journal() {
  printf 'thanos-global-view: vm %s: last journal lines of %s:\n' "$VM_NAME" "$1" >&2
  journalctl --unit "$1" --since "$2" --lines 30 --no-pager --output short-iso 2>&1 | redact_secrets "${3:-}" >&2 || true
}
