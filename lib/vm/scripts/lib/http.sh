# shellcheck shell=bash
# GETs a URL and prints the body; on failure prints curl's one-line reason instead, and fails.
fetch() {
  curl --silent --show-error --fail --location --max-time 10 "$1" 2>&1
}
# Polls a URL until it answers 2xx, for at most $2 seconds.
wait_http_ok() {
  local deadline=$((SECONDS + $2))
  until curl --silent --fail --max-time 5 --output /dev/null "$1"; do
    ((SECONDS < deadline)) || return 1
    sleep 1
  done
}
