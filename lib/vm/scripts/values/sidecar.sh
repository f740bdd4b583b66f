# shellcheck shell=bash disable=SC2034 # the scripts that source this file read these
# The values of one VM's sidecar scripts (install and delete). A stand-in: lib/vm/shell.ts puts one quoted
# `readonly` line per value here when it renders a script, and refuses a value not declared here or one declared but
# not given. Declared so that shellcheck, run on the scripts themselves, knows them; the kind ('' text, 0 integer,
# () array) is checked too. lib/vm/sidecarValues.ts computes them.
readonly VM_NAME=''               # the VM's name in the stack config; every message names it
readonly PROMETHEUS_URL=''        # Prometheus as seen from the VM
readonly TSDB_PATH=''             # Prometheus' TSDB directory on the VM
readonly RUN_AS=''                # the sidecar's user; empty: the TSDB's owner
readonly THANOS_VERSION=''        # e.g. 0.42.4
readonly INSTALL_ROOT=''          # versioned installs: INSTALL_ROOT/thanos-<version>/thanos
readonly VERSION_DIR=''           # THANOS_VERSION's directory under INSTALL_ROOT
readonly CONFIG_DIR=''            # objstore config, TLS files, Prometheus' client config and CA, the marker
readonly OWNER_MARKER_PATH=''     # the ownership marker
readonly OWNER_TOKEN=''           # names the stack resource that owns the sidecar
readonly OWNER_LABEL=''           # project/stack/vm, the readable form of OWNER_TOKEN
readonly UNIT_NAME=''             # thanos-sidecar.service
readonly UNIT_PATH=''             # where the unit file goes
readonly UNIT_TEMPLATE=''         # the unit file, with UNIT_USER_PLACEHOLDER for the user found on the VM
readonly UNIT_USER_PLACEHOLDER=''
readonly LOCK_PATH=''             # serialises runs on the VM
readonly WORK_ROOT=''             # where an install keeps its work directory
readonly READY_URL=''             # the sidecar's /-/ready, as seen from the VM
readonly READY_TIMEOUT_SECONDS=0  # how long a (re)started sidecar may take to get ready
readonly TLS_ENABLED=0            # 1: the payload carries the gRPC server's CA, cert and key
readonly PROMETHEUS_CLIENT_CONFIG=0 # 1: the payload carries the sidecar's HTTP client config for Prometheus
readonly SETTLE_SECONDS=0         # after a restart, how long to stay before returning: the next HA replica waits
readonly PAYLOAD_MAGIC=''         # the payload's first line
# Where each architecture's release comes from: tarball, sha256sums.txt, the names in both, the pinned sha256 (or '').
readonly TARBALL_URL_AMD64=''
readonly SUMS_URL_AMD64=''
readonly TARBALL_NAME_AMD64=''
readonly BINARY_MEMBER_AMD64=''
readonly PINNED_SHA256_AMD64=''
readonly TARBALL_URL_ARM64=''
readonly SUMS_URL_ARM64=''
readonly TARBALL_NAME_ARM64=''
readonly BINARY_MEMBER_ARM64=''
readonly PINNED_SHA256_ARM64=''
