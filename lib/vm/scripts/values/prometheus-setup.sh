# shellcheck shell=bash disable=SC2034 # the script that sources this file reads these
# The values of one VM's Prometheus setup script. A stand-in: lib/vm/shell.ts puts one quoted `readonly` line per
# value here when it renders the script, and refuses a value not declared here or one declared but not given.
# Declared so that shellcheck, run on the script itself, knows them; the kind ('' text, 0 integer, () array) is
# checked too. lib/vm/prometheusSetup.ts computes them.
readonly VM_NAME=''               # the VM's name in the stack config; every message names it
readonly PROMETHEUS_URL=''        # Prometheus as seen from the VM
readonly PROMETHEUS_UNIT=''       # prometheus.service
readonly DEFAULTS_FILE=''         # /etc/default/prometheus: its ARGS get the block durations
readonly PROMETHEUS_CONFIG=''     # prometheus.yml: gets the external labels
readonly LOCK_PATH=''             # serialises runs on the VM
readonly BLOCK_DURATION=''        # for both min and max block duration, e.g. 2h
readonly -a LABEL_NAMES=()        # the external labels: names,
readonly -a LABEL_VALUES=()       # values,
readonly -a LABEL_YAML=()         # and values as YAML scalars
readonly WANTED_LABELS=''         # all of them as one flow-style YAML map, for messages
readonly READY_TIMEOUT_SECONDS=0  # how long a restarted Prometheus may take to get ready
readonly WORK_ROOT=''             # where the script keeps the payload (Prometheus' credentials) while it runs
readonly PAYLOAD_MAGIC=''         # the payload's first line
