# shellcheck shell=bash
# Shared helpers for test/build/build-* and test/build/toolchain: build binaries from Go modules published on the module
# proxy (no release downloads are possible here) into the project cache. Source it.

# What a person sees goes to stderr, a few lines a build: the build scripts print only their result on stdout, and
# the output of the programs they run (go, debootstrap, apt-get) goes to a log file under the cache (gb_step).
# GB_ERR is the script's own stderr, kept while a step sends fd 2 to its log.
exec {GB_ERR}>&2
gb_log() { printf '%s: %s\n' "${0##*/}" "$*" >&"$GB_ERR"; }
gb_die() { gb_log "error: $*"; exit 1; }

gb_cache_root() { printf '%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}/thanos-global-view"; }

# gb_duration SECONDS: "42s", "3m05s".
gb_duration() {
  if (($1 < 60)); then printf '%ds\n' "$1"; else printf '%dm%02ds\n' $(($1 / 60)) $(($1 % 60)); fi
}

# gb_show PATH: PATH with the home directory as ~, for messages.
gb_show() { printf '%s\n' "${1/#"$HOME"/\~}"; }

# gb_step WHAT LOGNAME HOW CMD...: runs CMD (a function, in this shell, so the variables it sets stay set) with its
# stdout and stderr in <cache>/logs/LOGNAME.log. Prints one line when it starts ("WHAT, HOW; log: ..."), one with
# its time when it is done; when it fails, the log's last lines. HOW says how long it takes, e.g. "minutes the
# first time". One step at a time (GB_STEP_*); the EXIT trap (gb_step_failed) reports a step the script left in.
GB_STEP_WHAT='' GB_STEP_LOG='' GB_STEP_START=0
gb_step() {
  local what=$1 log
  log=$(gb_cache_root)/logs/$2.log
  shift 2
  mkdir -p "$(dirname "$log")"
  gb_log "$what, $1; log: $(gb_show "$log")"
  shift
  GB_STEP_WHAT=$what GB_STEP_LOG=$log GB_STEP_START=$SECONDS
  "$@" >"$log" 2>&1
  gb_log "$what: done in $(gb_duration $((SECONDS - GB_STEP_START)))"
  GB_STEP_WHAT=
}

# gb_step_failed: from an EXIT trap: when a step was under way, says so and shows the end of its log.
gb_step_failed() {
  [[ -n $GB_STEP_WHAT ]] || return 0
  gb_log "$GB_STEP_WHAT: failed after $(gb_duration $((SECONDS - GB_STEP_START))); the end of $(gb_show "$GB_STEP_LOG"):"
  { tail -n 40 -- "$GB_STEP_LOG" || true; } 2>&1 | sed 's/^/    /' >&"$GB_ERR"
  GB_STEP_WHAT=
}

# The test/build/ directory, for test/build/install-host-packages.
GB_SCRIPTS_DIR=$(dirname "${BASH_SOURCE[0]}")/..

# gb_need_cmds CMD:PKG...: installs the Debian packages of the commands that are missing, all at once (one apt-get
# update and one apt-get install, through scripts/install-host-packages), so the scripts work on a fresh machine.
gb_need_cmds() {
  local pair cmds=() pkgs=()
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null && continue
    cmds+=("${pair%%:*}")
    pkgs+=("${pair#*:}")
  done
  ((${#pkgs[@]})) || return 0
  gb_step "installing the Debian packages ${pkgs[*]} (for ${cmds[*]})" install-host-packages "about a minute" \
    "$GB_SCRIPTS_DIR/install-host-packages" "${pkgs[@]}"
}

gb_need_go() {
  # Non-login shells may not have the standard Go install location on PATH.
  if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then
    PATH="/usr/local/go/bin:$PATH"
  fi
  command -v go >/dev/null || gb_die "go is not installed (Debian's golang-go is too old for these modules)"
}

# gb_lock FILE: serialises concurrent builds of the same artefact (held until the script exits).
gb_lock() {
  mkdir -p "$(dirname "$1")"
  exec 9>"$1"
  if ! flock -n 9; then
    gb_log "waiting for another build holding $1"
    flock 9
  fi
}

# gb_begin_build BASE NAME: with NAME's lock held, sets GB_TMP to a fresh scratch directory beside the cache entry
# (same filesystem, so publishing is a rename) holding out/, the future entry. The trap removes it on exit; scratch
# left by a build that was killed outright is removed here.
GB_TMP=
gb_cleanup() {
  gb_step_failed
  if [[ -n $GB_TMP ]]; then rm -rf -- "$GB_TMP"; fi
}
trap gb_cleanup EXIT
gb_begin_build() {
  rm -rf -- "$1/.$2.tmp."*
  GB_TMP=$(mktemp -d "$1/.$2.tmp.XXXXXX")
  mkdir "$GB_TMP/out"
}

# gb_module_download MODULE VERSION: fetches the module source; sets GB_MOD_DIR (read-only source tree) and
# GB_MOD_TIME (commit time, RFC 3339). The restricted proxy answers 403 for some versions: say so plainly.
gb_module_download() {
  local mod=$1 ver=$2 json info
  echo "downloading $mod@$ver from the Go module proxy" >&2
  if ! json=$(go mod download -json "$mod@$ver"); then
    gb_die "$mod@$ver is not available from the Go module proxy: $(sed -n 's/\\n\\t/ /g; s/^\t"Error": "\(.*\)"$/\1/p' <<<"$json")"
  fi
  GB_MOD_DIR=$(sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' <<<"$json")
  info=$(sed -n 's/^\t"Info": "\(.*\)",$/\1/p' <<<"$json")
  GB_MOD_TIME=
  if [[ -f $info ]]; then GB_MOD_TIME=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info"); fi
  [[ -d $GB_MOD_DIR && -n $GB_MOD_TIME ]] || gb_die "unexpected 'go mod download' output: $json"
}

# gb_build_from_copy SRC_DIR PACKAGE OUTPUT LDFLAGS [TAGS]: builds a static linux binary inside a writable copy of
# the module in GB_TMP, because `go install module@version` refuses modules whose go.mod has replace directives.
# TAGS is a comma-separated build tag list (default netgo).
gb_build_from_copy() {
  local src=$1 pkg=$2 out=$3 ldflags=$4 tags=${5:-netgo}
  cp -R "$src/." "$GB_TMP/src"
  chmod -R u+w "$GB_TMP/src"
  (cd "$GB_TMP/src" && CGO_ENABLED=0 GOOS=linux go build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$out" "$pkg")
}

# gb_recipe_key [FILE...]: a short hash of how an entry is built: the calling script, these helpers, the Go version
# and any FILE (pinned go.mod/go.sum). Part of the entry's name, so a changed recipe builds a new entry.
# shellcheck disable=SC2120 # the files are optional
gb_recipe_key() {
  cat -- "$0" "${BASH_SOURCE[0]}" "$@" <(go env GOVERSION) | sha256sum | cut -c1-12
}

# gb_publish FINAL_DIR [SIBLING_PREFIX]: moves GB_TMP/out into place with a rename, so readers never see a half-built
# cache entry; then removes the entries beside it named SIBLING_PREFIX* (older recipes of the same version).
gb_publish() {
  local final=$1 prefix=${2:-} old
  rm -rf -- "$final"
  mv -T -- "$GB_TMP/out" "$final"
  [[ -n $prefix ]] || return 0
  for old in "$(dirname "$final")/$prefix"*; do
    if [[ -e $old && $old != "$final" ]]; then rm -rf -- "$old"; fi
  done
}
