# shellcheck shell=bash disable=SC2034 # the script that sources this file reads these
# The values of one VM's external-labels script. A stand-in: lib/vm/shell.ts puts one quoted `readonly` line per
# value here when it renders the script, and refuses a value not declared here or one declared but not given.
# lib/vm/prometheusSetup.ts computes them.
readonly VM_NAME=''               # the VM's name in the stack config; every message names it
readonly PROMETHEUS_URL=''        # Prometheus as seen from the VM
readonly CONFIGURED_LABELS=''     # what configurePrometheus sets, as YAML; empty without it
readonly WORK_ROOT=''             # where the script keeps the payload while it runs
readonly PAYLOAD_MAGIC=''         # the payload's first line
