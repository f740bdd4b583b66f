# shellcheck shell=bash
# First in every script: strict mode, a private umask (secrets are written), a predictable locale and PATH (sudo and
# root logins differ). A dropped SSH session (HUP), Ctrl-C or TERM becomes a plain exit, so EXIT traps still clean up
# or roll back, and a closed stdout makes writes fail (and the script exit through its trap) instead of killing it
# mid-change.
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true
umask 077
export LC_ALL=C
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
trap '' PIPE
