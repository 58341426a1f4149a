#!/bin/bash
# ------------------------------------------------------------------------------
# 50-lava.sh -- boot scriptlet that installs and starts lava on a worker.
#
# Deployed as <code-area>/_boot_/50-lava.sh and run by root.boot.sh as
#
#     50-lava.sh s3://<bucket>/<prefix> <REALM> <WORKER>
#
# Usage: 50-lava.sh [-h] CODE-AREA REALM WORKER
#
# This script is only an entry point. Everything the worker boot decides and
# does lives in the Rust binary lava-boot, which `cargo xtask dist` builds and
# publishes at <code-area>/_boot_/bin/lava-boot-<arch>:
#   - which bundle to install: the realms table (lava.realms) pin at
#     x-workers.<WORKER>.version or x-workers._.version, new-style
#     lava-<ver>-<os>-py<M.m>-<arch>.tar.bz2 names before old-style
#     lava-<ver>.tar.bz2, highest version when nothing is pinned;
#   - checking the bundle against SHA256SUMS, extracting and installing it;
#   - the lava users, worker environment and daemons (workers, threads,
#     daemons, env).
# None of that is (re)implemented here. This script only:
#   1. checks its three arguments;
#   2. maps `uname -m` to the binary's arch (x86_64, or aarch64 for
#      aarch64/arm64);
#   3. downloads <code-area>/_boot_/bin/lava-boot-<arch> into a new temporary
#      directory (aws s3 cp) and, when <code-area>/_boot_/bin/SHA256SUMS is
#      there, checks the binary's digest against it;
#   4. makes it executable and execs
#        lava-boot apply --code-area CODE-AREA --realm REALM --worker WORKER
#
# Because of the exec, the temporary directory holding the lava-boot binary
# (${TMPDIR:-/tmp}/lava-boot.XXXXXX, a few MB) is not removed; /tmp is
# cleared at reboot. It is removed when this script fails before the exec.
#
# For tests, CODE-AREA may be file:///absolute/dir: the binary is then copied
# from that local directory rather than from S3.
#
# Messages go to stderr and to syslog (logger, facility local0).
#
# Exit status (root.boot.sh aborts the boot on 1 and carries on otherwise):
#   0, other  lava-boot's own status, once it has been exec'd
#   1         abort the boot: bad arguments, unknown architecture, the
#             lava-boot binary for this arch missing from the code area (or
#             unreadable), or a digest mismatch; any unexpected failure of
#             this script also exits 1, since lava cannot be installed
# ------------------------------------------------------------------------------

set -euo pipefail

PROG=$(basename -- "$0")

usage() {
	cat <<EOF
Usage: $PROG [-h] CODE-AREA REALM WORKER

Fetch CODE-AREA/_boot_/bin/lava-boot-<arch> and exec
  lava-boot apply --code-area CODE-AREA --realm REALM --worker WORKER
which selects, installs and starts the lava worker.

  CODE-AREA  s3://bucket/prefix, or file:///dir (local copy, for tests)
EOF
}

# log LEVEL MESSAGE...: to stderr and syslog.
log() {
	local level=$1 prio
	shift
	case $level in
	INFO) prio=info ;;
	WARNING) prio=warning ;;
	*) prio=err ;;
	esac
	printf '%s: %s: %s\n' "$PROG" "$level" "$*" >&2
	if command -v logger >/dev/null 2>&1; then
		logger -t "$PROG" -p "local0.$prio" -- "$level: $*" 2>/dev/null || true
	fi
}
info() { log INFO "$@"; }
warning() { log WARNING "$@"; }
abort() {
	log ERROR "ABORT: $*"
	exit 1
}

tmp=
on_exit() {
	local status=$?
	[[ -z $tmp ]] || rm -rf -- "$tmp"
	# Any failure before the exec means lava cannot be installed: abort the
	# boot (status 1), even for failures such as an unset variable (127).
	[[ $status -eq 0 ]] || exit 1
}
trap on_exit EXIT

# fetch SOURCE DEST: copy one object from the code area. Prints the tool's
# error output on failure.
fetch() {
	case $1 in
	s3://*) aws s3 cp --no-progress --only-show-errors "$1" "$2" 2>&1 ;;
	file://*) cp -- "${1#file://}" "$2" 2>&1 ;;
	esac
}

# ------------------------------------------------------------------------------
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
[[ -n $realm ]] || abort "REALM is empty"
[[ -n $worker ]] || abort "WORKER is empty"

machine=$(uname -m)
case $machine in
x86_64 | amd64 | x64) arch=x86_64 ;;
aarch64 | arm64) arch=aarch64 ;;
*) abort "unsupported architecture '$machine' (lava-boot is built for x86_64 and aarch64)" ;;
esac

bin_area=$area/_boot_/bin
binary=lava-boot-$arch

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lava-boot.XXXXXX")
chmod 700 "$tmp"

info "fetching $bin_area/$binary"
if ! out=$(fetch "$bin_area/$binary" "$tmp/lava-boot"); then
	abort "the lava-boot binary for $arch ($binary) is missing from the code area" \
		"$area (looked for $bin_area/$binary; deploy the boot component built by" \
		"'cargo xtask dist'): $out"
fi

# Digest check, when the code area has a SHA256SUMS for _boot_/bin/.
if out=$(fetch "$bin_area/SHA256SUMS" "$tmp/SHA256SUMS"); then
	want=$(awk -v f="$binary" '{ n = $2; sub(/^\*/, "", n); sub(/.*\//, "", n) } n == f { print $1; exit }' "$tmp/SHA256SUMS")
	if [[ -z $want ]]; then
		warning "$binary is not listed in $bin_area/SHA256SUMS: not verified"
	elif ! command -v sha256sum >/dev/null 2>&1; then
		warning "sha256sum not found: $binary not verified"
	else
		got=$(sha256sum "$tmp/lava-boot" | awk '{ print $1 }')
		[[ $got == "$want" ]] ||
			abort "$binary does not match $bin_area/SHA256SUMS (got $got, want $want)"
		info "$binary matches SHA256SUMS"
	fi
else
	warning "no $bin_area/SHA256SUMS: $binary not verified"
fi

chmod 755 "$tmp/lava-boot"
info "exec lava-boot apply --code-area $area --realm $realm --worker $worker"
# With execfail a failed exec (e.g. /tmp mounted noexec) returns here instead
# of exiting 126, which root.boot.sh would take as "carry on". A successful
# exec never runs the EXIT trap.
shopt -s execfail
exec "$tmp/lava-boot" apply --code-area "$area" --realm "$realm" --worker "$worker" ||
	abort "cannot run $tmp/lava-boot (not a binary for this host, or ${TMPDIR:-/tmp} mounted noexec?)"
