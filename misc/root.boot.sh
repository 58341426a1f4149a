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
# It downloads the boot scriptlets under <CODE-AREA>/_boot_/ into a private
# temporary directory (removed on exit) and runs each of them as
#
#     <scriptlet> CODE-AREA REALM WORKER   (stdin /dev/null)
#
# in byte-wise (C locale) lexicographic order of name. Only regular files
# directly in _boot_/ are run: sub-directories (e.g. _boot_/bin/, which holds
# the lava-boot binaries and is not even downloaded), README*, SHA256SUMS*
# and dot-files are skipped.
#
# A scriptlet's exit status decides what happens next:
#   0      fine, go on
#   1      abort the boot: no further scriptlet runs, root.boot.sh exits 1
#   other  logged as an error; the boot goes on with the next scriptlet
#
# CODE-AREA is normally s3://bucket/prefix (fetched with `aws s3 cp
# --recursive`). For tests it may also be file:///absolute/dir, a local
# directory laid out like the code area, which is copied with cp instead;
# scriptlets then receive the file:// area too.
#
# Messages go to stderr and to syslog (logger, facility local0).
#
# Exit status:
#   0  every scriptlet ran (some may have failed without aborting the boot)
#   1  boot aborted: bad arguments, the scriptlets could not be fetched or
#      there are none, or a scriptlet exited 1
# ------------------------------------------------------------------------------

set -euo pipefail

PROG=$(basename -- "$0")

usage() {
	cat <<EOF
Usage: $PROG [-h] CODE-AREA REALM WORKER

Download the boot scriptlets in CODE-AREA/_boot_/ and run each, in C-locale
order of name, as: scriptlet CODE-AREA REALM WORKER. A scriptlet exiting 1
aborts the boot; any other failure is logged and the boot goes on.

  CODE-AREA  s3://bucket/prefix, or file:///dir (local copy, for tests)
  REALM      lava realm name
  WORKER     lava worker name
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
error() { log ERROR "$@"; }
abort() {
	log ERROR "ABORT: $*"
	exit 1
}

# ------------------------------------------------------------------------------
tmp=
on_exit() {
	local status=$?
	[[ -z $tmp ]] || rm -rf -- "$tmp"
	# Whatever went wrong (set -e, set -u, ...), a failed boot exits 1.
	[[ $status -eq 0 ]] || exit 1
}
trap on_exit EXIT

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
name_re='^[A-Za-z0-9][A-Za-z0-9_.-]*$'
[[ $realm =~ $name_re ]] || abort "bad realm name '$realm'"
[[ $worker =~ $name_re ]] || abort "bad worker name '$worker'"

info "starting: area=$area realm=$realm worker=$worker"

# ------------------------------------------------------------------------------
# Fetch the scriptlets (top level of _boot_/ only).

tmp=$(mktemp -d "${TMPDIR:-/tmp}/root.boot.XXXXXX")
chmod 700 "$tmp"

info "fetching $area/_boot_/"
case $area in
s3://*)
	aws s3 cp --recursive --no-progress --only-show-errors \
		--exclude '*/*' "$area/_boot_/" "$tmp/" ||
		abort "cannot download $area/_boot_/"
	;;
file://*)
	src=${area#file://}/_boot_
	[[ -d $src ]] || abort "no such directory: $src"
	find "$src" -mindepth 1 -maxdepth 1 -type f -exec cp -p -- {} "$tmp/" \; ||
		abort "cannot copy $src"
	;;
esac

scriptlets=()
while IFS= read -r -d '' path; do
	scriptlets+=("$path")
done < <(find "$tmp" -mindepth 1 -maxdepth 1 -print0 | LC_ALL=C sort -z)

[[ ${#scriptlets[@]} -gt 0 ]] || abort "no boot scriptlets in $area/_boot_/"

# ------------------------------------------------------------------------------
# Run them.

cd "$tmp"
ran=0
for path in "${scriptlets[@]}"; do
	name=${path##*/}
	case $name in
	README* | SHA256SUMS* | .*)
		info "skipping $name"
		continue
		;;
	esac
	if [[ -L $path || ! -f $path ]]; then
		warning "skipping $name: not a regular file"
		continue
	fi

	chmod 700 "$path"
	info "running $name"
	status=0
	"$path" "$area" "$realm" "$worker" </dev/null || status=$?
	ran=$((ran + 1))

	case $status in
	0) info "$name: OK" ;;
	1) abort "$name exited 1: boot aborted" ;;
	*) error "$name failed with status $status: continuing" ;;
	esac
done

info "done: $ran scriptlet(s) run"
