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
# publishes as <code-area>/_boot_/bin/lava-boot-<arch>. It runs
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
# with fetch_lava_boot, the same code as in root.boot.sh.
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

# log LEVEL MESSAGE...: to stderr and syslog.
log() {
	local level=$1 prio
	shift
	case $level in
	INFO) prio=info ;;
	*) prio=err ;;
	esac
	printf '%s: %s: %s\n' "$PROG" "$level" "$*" >&2
	if command -v logger >/dev/null 2>&1; then
		logger -t "$PROG" -p "local0.$prio" -- "$level: $*" 2>/dev/null || true
	fi
}
info() { log INFO "$@"; }
abort() {
	log ERROR "ABORT: $*"
	exit 1
}

tmp=
on_exit() {
	local status=$?
	[[ -z $tmp ]] || rm -rf -- "$tmp"
	# Any failure means lava is not running: abort the boot (status 1).
	[[ $status -eq 0 ]] || exit 1
}
trap on_exit EXIT

# ---- begin fetch_lava_boot: keep identical in root.boot.sh and boot/50-lava.sh
# fetch SOURCE DEST: copy one object of the code area.
fetch() {
	case $1 in
	s3://*) aws s3 cp --no-progress --only-show-errors "$1" "$2" ;;
	file://*) cp -- "${1#file://}" "$2" ;;
	esac
}

# fetch_lava_boot AREA DIR: AREA/_boot_/bin/lava-boot-<arch> for this machine
# into DIR/lava-boot, checked against AREA/_boot_/bin/SHA256SUMS.
fetch_lava_boot() {
	local area=$1 dir=$2 machine arch name want got
	machine=$(uname -m)
	case $machine in
	x86_64 | amd64 | x64) arch=x86_64 ;;
	aarch64 | arm64) arch=aarch64 ;;
	*) abort "unsupported architecture '$machine' (lava-boot is built for x86_64 and aarch64)" ;;
	esac
	name=lava-boot-$arch
	info "fetching $area/_boot_/bin/$name"
	fetch "$area/_boot_/bin/$name" "$dir/lava-boot" ||
		abort "cannot fetch $area/_boot_/bin/$name (deploy the boot component built by 'cargo xtask dist')"
	fetch "$area/_boot_/bin/SHA256SUMS" "$dir/SHA256SUMS" ||
		abort "cannot fetch $area/_boot_/bin/SHA256SUMS, so $name cannot be verified"
	want=$(awk -v f="$name" '$2 == f || $2 == "*" f { print $1; exit }' "$dir/SHA256SUMS")
	[[ -n $want ]] || abort "$name is not listed in $area/_boot_/bin/SHA256SUMS"
	got=$(sha256sum "$dir/lava-boot")
	got=${got%% *}
	[[ $got == "$want" ]] || abort "$name does not match SHA256SUMS (sha256 $got, expected $want)"
	chmod 755 "$dir/lava-boot"
}
# ---- end fetch_lava_boot

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

# ---- begin ami_type: keep identical in boot/50-lava.sh and boot.optional/*.sh
# ami_type: lava, SAK or unknown, as upstream tells them apart.
ami_type() {
	local etc=${LAVA_BOOT_ROOT:-}/usr/local/etc AMI_TYPE=
	if [[ -f $etc/ami-info ]]; then
		# shellcheck disable=SC1091
		. "$etc/ami-info"
		echo "${AMI_TYPE:-unknown}"
	elif [[ -f $etc/rc.d/00_shell.sh ]]; then
		echo SAK
	else
		echo unknown
	fi
}
# ---- end ami_type

ami=$(ami_type)
case $ami in
lava | SAK) info "AMI type is $ami" ;;
*) abort "AMI type is '$ami', not lava or SAK: no ${LAVA_BOOT_ROOT:-}/usr/local/etc/ami-info with AMI_TYPE=lava" ;;
esac

if [[ -z ${LAVA_BOOT_ROOT:-} ]]; then
	info "making sure the SSM agent runs"
	systemctl enable amazon-ssm-agent >&2 || log ERROR "cannot enable amazon-ssm-agent"
	systemctl start amazon-ssm-agent >&2 || log ERROR "cannot start amazon-ssm-agent"
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
