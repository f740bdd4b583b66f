# shellcheck shell=bash
# The secret files come on stdin, never in the command line (lib/vm/payload.ts writes them): a magic line
# (PAYLOAD_MAGIC), one "<entry> <base64>" line per file, and "end", which tells a complete payload from a cut one.

# read_payload DIR: stdin's entries become files in DIR (0700), among them `redact`, the values show_journal must
# hide. Decoding goes through printf, a builtin, so no secret shows up in any process' arguments.
read_payload() {
  local dir=$1 line name data ended=0
  mkdir -m 0700 -- "$dir"
  IFS= read -r line || die "no payload on stdin: the objstore config (and TLS files) must be piped to this script"
  [[ $line == "$PAYLOAD_MAGIC" ]] || die "stdin does not hold a thanos-global-view payload (first line must be: $PAYLOAD_MAGIC)"
  while read -r name data; do
    case $name in
      end)
        ended=1
        break
        ;;
      objstore.yml | tls-ca.crt | tls-server.crt | tls-server.key | redact) ;;
      *) die "unknown entry in the payload on stdin: $name" ;;
    esac
    printf '%s' "$data" | base64 -d >"$dir/$name" 2>/dev/null || die "payload entry $name is not valid base64"
  done
  ((ended)) || die "the payload on stdin is truncated (no end line)"
}
