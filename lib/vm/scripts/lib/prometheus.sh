# shellcheck shell=bash
# The running Prometheus (PROMETHEUS_URL), read through its HTTP API with fetch (http.sh). No jq or python on a VM:
# the two answers read here are flat enough for bash regexes. Needs external-labels.sh.

# Prints the string value of the first "key":"value" pair in a JSON text; fails when there is none.
json_string_field() {
  local re="\"${2//./[.]}\"[[:space:]]*:[[:space:]]*\"([^\"]*)\""
  [[ $1 =~ $re ]] || return 1
  printf '%s\n' "${BASH_REMATCH[1]}"
}
# The /api/v1/status/flags answer of the last check_running_prometheus, for reported_tsdb_path.
PROMETHEUS_FLAGS=""
# check_running_prometheus REPORT: the running Prometheus answers, runs with equal min and max block durations, and
# has external labels. On the first problem it runs REPORT with the reason (die, warn, or true to only fail) and
# fails.
check_running_prometheus() {
  local report=$1 base=${PROMETHEUS_URL%/} config min max
  if ! PROMETHEUS_FLAGS=$(fetch "$base/api/v1/status/flags"); then
    "$report" "Prometheus does not answer at $PROMETHEUS_URL ($PROMETHEUS_FLAGS): check prometheusUrl and that Prometheus is running"
    return 1
  fi
  if ! min=$(json_string_field "$PROMETHEUS_FLAGS" storage.tsdb.min-block-duration); then
    "$report" "$base/api/v1/status/flags shows no storage.tsdb.min-block-duration: is $PROMETHEUS_URL a Prometheus server (not an agent)?"
    return 1
  fi
  if ! max=$(json_string_field "$PROMETHEUS_FLAGS" storage.tsdb.max-block-duration); then
    "$report" "$base/api/v1/status/flags shows no storage.tsdb.max-block-duration: is $PROMETHEUS_URL a Prometheus server (not an agent)?"
    return 1
  fi
  if [[ $min != "$max" ]]; then
    "$report" "Prometheus runs with storage.tsdb.min-block-duration=$min but storage.tsdb.max-block-duration=$max; the Thanos sidecar needs both equal (local compaction off) or it never becomes ready. Fix: start Prometheus with --storage.tsdb.min-block-duration=2h --storage.tsdb.max-block-duration=2h (Debian/Ubuntu: ARGS in /etc/default/prometheus), or set configurePrometheus for this VM"
    return 1
  fi
  if ! config=$(fetch "$base/api/v1/status/config"); then
    "$report" "Prometheus does not answer at $base/api/v1/status/config ($config)"
    return 1
  fi
  if ! external_labels_block "$config" >/dev/null; then
    "$report" "Prometheus at $PROMETHEUS_URL has no external_labels; the sidecar refuses to run without labels that identify this Prometheus. Fix: add them under global: in prometheus.yml (e.g. external_labels: {cluster: $VM_NAME}) and restart Prometheus, or set configurePrometheus for this VM"
    return 1
  fi
}
# Prints the storage.tsdb.path the last check_running_prometheus saw; nothing when Prometheus reports none.
reported_tsdb_path() {
  json_string_field "$PROMETHEUS_FLAGS" storage.tsdb.path || true
}
