# shellcheck shell=bash
# The external labels in Prometheus' /api/v1/status/config answer; the stack parses the block this prints itself.
# external_labels_block CONFIG: the external_labels entries of an /api/v1/status/config answer, which carries the
# YAML as one JSON string ("global:\n  external_labels:\n    cluster: a\n..."): the lines indented below
# "external_labels:", still JSON-escaped and joined by \n, as the stack reads them back. Fails when there are none
# (an empty set is omitted or written as {}).
external_labels_block() {
  local re='"yaml"[[:space:]]*:[[:space:]]*"(([^"\\]|\\.)*)"' start='^( *)external_labels:$' entry='^( *)[^ ]'
  local line indent=-1 block="" lines=()
  [[ $1 =~ $re ]] || return 1
  mapfile -t lines <<<"${BASH_REMATCH[1]//\\n/$'\n'}"
  for line in "${lines[@]}"; do
    if ((indent < 0)); then
      if [[ $line =~ $start ]]; then indent=${#BASH_REMATCH[1]}; fi
      continue
    fi
    if ! [[ $line =~ $entry ]] || ((${#BASH_REMATCH[1]} <= indent)); then break; fi
    block+="${block:+\\n}$line"
  done
  [[ -n $block ]] || return 1
  printf '%s\n' "$block"
}
