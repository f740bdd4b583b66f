# shellcheck shell=bash
# The EXIT trap of a script that changes a VM in place. While APPLYING is 1, a failed exit (an error, a dropped SSH
# session, a cancelled up) first runs the entry script's undo_change; then its clean_up gets the exit status. Neither
# a second signal nor a failing write (a dropped session closes stderr) stops them. The entry script defines both
# functions and sets `trap on_exit EXIT`.

APPLYING=0 # 1 while a change is half applied: a failure then undoes it

on_exit() {
  local status=$?
  trap '' HUP INT TERM
  set +e
  if ((status != 0 && APPLYING)); then
    APPLYING=0
    undo_change
  fi
  clean_up "$status"
  exit "$status"
}
