#!/bin/bash
# ------------------------------------------------------------------------------
# root.boot.sh -- primary boot script of an EC2 lava worker.
#
# Deployed per worker as <code-area>/<REALM>/<WORKER>/root.boot.sh. The worker
# launch template's user data has the lava AMI fetch it with s3run and run it
# as root:  root.boot.sh s3://<bucket>/<prefix> <REALM> <WORKER>
#
# Usage: root.boot.sh [-h] CODE-AREA REALM WORKER
#
# A thin caller of lava-boot, the Rust binary `cargo xtask dist` publishes as
# <code-area>/_dist_/boot/lava-boot-<arch>. This script only:
#   1. checks its arguments;
#   2. fetches lava-boot for this machine's architecture into a private
#      temporary directory and checks it against _dist_/boot/SHA256SUMS
#      (fetch_lava_boot, which boot/50-lava.sh has too);
#   3. runs  lava-boot run-scripts CODE-AREA REALM WORKER
#      which fetches the scriptlets directly in <code-area>/_boot_/ and runs
#      each as `<scriptlet> CODE-AREA REALM WORKER` in order of name,
#      skipping README*, SHA256SUMS, dot-files and directories. A scriptlet
#      exiting 1 aborts the boot; any other failure is logged and the boot
#      goes on. Scriptlets find this lava-boot in $LAVA_BOOT, so 50-lava.sh
#      does not download it again.
#
# CODE-AREA is normally s3://bucket/prefix (fetched with the aws CLI). For
# tests it may be file:///absolute/dir, a local copy of the code area.
#
# Messages go to stderr and to syslog (logger, facility local0); lava-boot's
# own go to stderr.
#
# Exit status:
#   0  every scriptlet ran (some may have failed without aborting the boot)
#   1  boot aborted: bad arguments, lava-boot missing or not matching its
#      SHA256SUMS, no scriptlets, or a scriptlet exited 1
# ------------------------------------------------------------------------------

set -euo pipefail

PROG=$(basename -- "$0")

usage() {
	cat <<EOF
Usage: $PROG [-h] CODE-AREA REALM WORKER

Fetch lava-boot from CODE-AREA/_dist_/boot/ and run the boot scriptlets in
CODE-AREA/_boot_/ with it (lava-boot run-scripts CODE-AREA REALM WORKER).

  CODE-AREA  s3://bucket/prefix, or file:///dir (local copy, for tests)
  REALM      lava realm name
  WORKER     lava worker name
EOF
}

# @include lib/log.sh

tmp=
on_exit() {
	local status=$?
	[[ -z $tmp ]] || rm -rf -- "$tmp"
	# Whatever went wrong (set -e, set -u, ...), a failed boot exits 1.
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

info "starting: area=$area realm=$realm worker=$worker"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/root.boot.XXXXXX")
fetch_lava_boot "$area" "$tmp"
"$tmp/lava-boot" run-scripts "$area" "$realm" "$worker" ||
	abort "boot aborted (lava-boot run-scripts exited $?)"
info "done"
