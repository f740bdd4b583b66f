# shellcheck shell=bash
# The ownership marker (OWNER_MARKER_PATH) names the stack resource that installed the sidecar: a token, and a
# readable owner label.

# Prints field $1 (token or owner) of the marker; fails when the marker or the field is missing.
marker_field() {
  local line
  [[ -f $OWNER_MARKER_PATH ]] || return 1
  while IFS= read -r line; do
    if [[ $line == "$1="* ]]; then
      printf '%s\n' "${line#*=}"
      return 0
    fi
  done <"$OWNER_MARKER_PATH"
  return 1
}
