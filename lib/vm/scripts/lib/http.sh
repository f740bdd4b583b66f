# shellcheck shell=bash
# curl's arguments for every request to Prometheus: its credentials and CA, once use_prometheus_access has read them.
PROMETHEUS_CURL=()
# GETs a Prometheus URL and prints the body; on failure prints curl's one-line reason instead, and fails.
fetch() {
  curl --silent --show-error --fail --location --max-time 10 ${PROMETHEUS_CURL[@]+"${PROMETHEUS_CURL[@]}"} "$1" 2>&1
}
# wait_http_ok URL SECONDS [CURL_ARG...]: polls URL until it answers 2xx, for at most SECONDS.
wait_http_ok() {
  local url=$1 deadline=$((SECONDS + $2))
  shift 2
  until curl --silent --fail --max-time 5 --output /dev/null "$@" "$url"; do
    ((SECONDS < deadline)) || return 1
    sleep 1
  done
}
