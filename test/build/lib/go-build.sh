# shellcheck shell=bash
# Shared helpers for scripts/build-* and scripts/toolchain: build binaries from Go modules published on the module
# proxy (no release downloads are possible here) into the project cache. Source it.

# Logs go to stderr: the build scripts print only their result on stdout.
gb_log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
gb_die() { gb_log "error: $*"; exit 1; }

gb_cache_root() { printf '%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}/thanos-global-view"; }

# The scripts/ directory, for scripts/install-host-packages.
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
  gb_log "installing ${pkgs[*]} (for ${cmds[*]})"
  # Its apt-get output would mix into the result the build scripts print on stdout.
  "$GB_SCRIPTS_DIR/install-host-packages" "${pkgs[@]}" >&2
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
gb_cleanup() { if [[ -n $GB_TMP ]]; then rm -rf -- "$GB_TMP"; fi; }
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
  gb_log "downloading $mod@$ver from the Go module proxy"
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
  gb_log "building $pkg for linux/$(go env GOARCH) (this takes minutes on a cold Go build cache)"
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
