#!/bin/bash
# ------------------------------------------------------------------------------
# 50-lava.sh -- boot scriptlet that installs and starts lava on a worker.
#
# Deployed as <code-area>/_boot_/50-lava.sh and run by root.boot.sh (through
# lava-boot run-scripts) as
#
#     50-lava.sh s3://<bucket>/<prefix> <REALM> <WORKER>
#
# Usage: 50-lava.sh [-h] CODE-AREA REALM WORKER
#
# First, as upstream's scriptlet: it aborts unless the AMI is a lava AMI
# (/usr/local/etc/ami-info says AMI_TYPE=lava) or a SAK AMI (has
# /usr/local/etc/rc.d/00_shell.sh), and makes sure the SSM agent is enabled
# and running (the stop function reaches the worker through SSM Run Command).
#
# Then it is a thin caller of lava-boot, the Rust binary `cargo xtask dist`
# publishes as <code-area>/_dist_/boot/lava-boot-<arch>. It runs
#
#     lava-boot apply --code-area CODE-AREA --realm REALM --worker WORKER
#
# which does the whole job: the bundle for this os, Python and architecture
# (realms table pin at x-workers.<WORKER>.version or x-workers._.version,
# else the highest version), its SHA256SUMS check and a scan for entries
# leaving the install directory, install.sh, the lava-version check, the
# lava group and lava-<worker> accounts, and the daemons (workers, threads,
# daemons, env). `lava-boot plan` with the same arguments shows all of it
# without changing anything.
#
# The lava-boot used is $LAVA_BOOT when set (root.boot.sh's, which runs this
# scriptlet); otherwise this script fetches it into a temporary directory
# with fetch_lava_boot, as root.boot.sh does.
#
# For tests, CODE-AREA may be file:///absolute/dir, a local copy of the code
# area, and LAVA_BOOT_ROOT=DIR makes lava-boot land everything below DIR
# without touching accounts or starting daemons; the AMI type is then read
# below DIR and the SSM agent left alone.
#
# Messages go to stderr and to syslog (logger, facility local0); lava-boot's
# own go to stderr.
#
# Exit status (root.boot.sh aborts the boot on 1 and carries on otherwise):
#   0  lava installed and its daemons started
#   1  abort the boot: bad arguments, not a lava or SAK AMI, lava-boot
#      missing or not matching its SHA256SUMS, or lava-boot apply failed (its
#      message says why)
# ------------------------------------------------------------------------------

set -euo pipefail

PROG=$(basename -- "$0")

usage() {
	cat <<EOF
Usage: $PROG [-h] CODE-AREA REALM WORKER

Install and start lava with lava-boot:
  lava-boot apply --code-area CODE-AREA --realm REALM --worker WORKER

  CODE-AREA  s3://bucket/prefix, or file:///dir (local copy, for tests)
EOF
}

# @include lib/log.sh

tmp=
on_exit() {
	local status=$?
	[[ -z $tmp ]] || rm -rf -- "$tmp"
	# Any failure means lava is not running: abort the boot (status 1).
	[[ $status -eq 0 ]] || exit 1
}
trap on_exit EXIT

# @include lib/fetch_lava_boot.sh

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
	usage
	exit 0
fi
if [[ $# -ne 3 ]]; then
	usage >&2
	abort "expected 3 arguments, got $#"
fi

area=${1%/}
realm=$2
worker=$3

case $area in
s3://?* | file:///?*) ;;
*) abort "CODE-AREA must be s3://bucket/prefix or file:///dir, not '$1'" ;;
esac

# @include lib/ami_type.sh

ami=$(ami_type)
case $ami in
lava | SAK) info "AMI type is $ami" ;;
*) abort "AMI type is '$ami', not lava or SAK: no ${LAVA_BOOT_ROOT:-}/usr/local/etc/ami-info with AMI_TYPE=lava" ;;
esac

if [[ -z ${LAVA_BOOT_ROOT:-} ]]; then
	info "making sure the SSM agent runs"
	systemctl enable amazon-ssm-agent >&2 || error "cannot enable amazon-ssm-agent"
	systemctl start amazon-ssm-agent >&2 || error "cannot start amazon-ssm-agent"
fi

if [[ -n ${LAVA_BOOT:-} && -x $LAVA_BOOT ]]; then
	boot=$LAVA_BOOT
else
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/lava-boot.XXXXXX")
	fetch_lava_boot "$area" "$tmp"
	boot=$tmp/lava-boot
fi
info "lava-boot apply --code-area $area --realm $realm --worker $worker"
"$boot" apply --code-area "$area" --realm "$realm" --worker "$worker" ||
	abort "lava-boot apply exited $?: lava is not installed or not started"
info "done"
