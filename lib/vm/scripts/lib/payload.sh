# shellcheck shell=bash
# The secret files come on stdin, never in the command line (lib/vm/payload.ts writes them): a magic line
# (PAYLOAD_MAGIC), one "<entry> <base64>" line per file, and "end", which tells a complete payload from a cut one.

# read_payload DIR: stdin's entries become files in DIR (0700), among them `redact`, the values show_journal must
# hide. Decoding goes through printf, a builtin, so no secret shows up in any process' arguments.
read_payload() {
  local dir=$1 line name data ended=0
  mkdir -m 0700 -- "$dir"
  IFS= read -r line || die "no payload on stdin: the secrets (objstore config, TLS files, Prometheus credentials) must be piped to this script"
  [[ $line == "$PAYLOAD_MAGIC" ]] || die "stdin does not hold a thanos-global-view payload (first line must be: $PAYLOAD_MAGIC)"
  while read -r name data; do
    case $name in
      end)
        ended=1
        break
        ;;
      objstore.yml | tls-ca.crt | tls-server.crt | tls-server.key | redact) ;;
      prometheus-curl.conf | prometheus-http.yml | prometheus-ca.crt) ;;
      *) die "unknown entry in the payload on stdin: $name" ;;
    esac
    printf '%s' "$data" | base64 -d >"$dir/$name" 2>/dev/null || die "payload entry $name is not valid base64"
  done
  ((ended)) || die "the payload on stdin is truncated (no end line)"
}
# use_prometheus_access DIR: requests to Prometheus (fetch, PROMETHEUS_CURL) send the payload's credentials
# (prometheus-curl.conf) and trust its CA (prometheus-ca.crt), when it holds them. curl reads them from the file:
# they are in no process' arguments.
use_prometheus_access() {
  local conf=$1/prometheus-curl.conf
  if [[ -s $1/prometheus-ca.crt ]]; then printf 'cacert = "%s"\n' "$1/prometheus-ca.crt" >>"$conf"; fi
  # shellcheck disable=SC2034 # fetch and the scripts' readiness waits (http.sh) read it
  if [[ -s $conf ]]; then PROMETHEUS_CURL=(--config "$conf"); fi
}
