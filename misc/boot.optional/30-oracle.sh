#!/bin/bash
# ------------------------------------------------------------------------------
# 30-oracle.sh -- optional boot scriptlet: install the Oracle instant client.
#
# Only for AMIs without it (the SAK AMI): the lava AMI has it built in. Deploy
# it with the boot component (`optional: [30-oracle.sh]` in deploy.yaml) as
# <code-area>/_boot_/30-oracle.sh; root.boot.sh runs it as
#
#     30-oracle.sh s3://<bucket>/<prefix> <REALM> <WORKER>
#
# Usage: 30-oracle.sh [-h] CODE-AREA REALM WORKER
#
# As upstream's scriptlet intends: on a lava or SAK AMI whose sqlplus does not
# run, it installs libaio, fetches the basiclite and sqlplus zips for this
# machine's architecture (x64 or arm64 in Oracle's names)
#
#     instantclient-basiclite-linux-<x64|arm64>.zip
#     instantclient-sqlplus-linux-<x64|arm64>.zip
#
# from <code-area>/_dist_/other/ (upstream's place for them) or else
# <code-area>/_ami_/oracle/ (where `cargo xtask ami stage` and the ami
# component put them), unzips them into /opt/oracle, registers the library
# directory with ldconfig and links /usr/bin/sqlplus.
#
# For tests, LAVA_BOOT_ROOT=DIR puts every file below DIR (the AMI type is
# read there too).
#
# Messages go to stderr and to syslog (logger, facility local0).
#
# Exit status (as upstream's: the workers need Oracle, so failing aborts):
#   0  installed, or already installed
#   1  abort the boot: not a lava or SAK AMI, unknown architecture, bad
#      arguments, or the install failed
# ------------------------------------------------------------------------------

set -uo pipefail

PROG=$(basename -- "$0")
ROOT=${LAVA_BOOT_ROOT:-}
ORACLE_TYPE=basiclite

usage() {
	cat <<EOF
Usage: $PROG [-h] CODE-AREA REALM WORKER

Optional boot scriptlet: install the Oracle instant client ($ORACLE_TYPE and
sqlplus) from CODE-AREA/_dist_/other/ or CODE-AREA/_ami_/oracle/ into
/opt/oracle, unless sqlplus already runs.
EOF
}

# @include lib/log.sh

tmp=
trap '[[ -z $tmp ]] || rm -rf -- "$tmp"' EXIT

# @include lib/ami_type.sh

# package_manager: dnf (Amazon Linux 2023) or yum.
package_manager() {
	if command -v dnf >/dev/null 2>&1; then echo dnf; else echo yum; fi
}

# ------------------------------------------------------------------------------
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
	usage
	exit 0
fi
[[ $# -eq 3 ]] || {
	usage >&2
	abort "expected 3 arguments, got $#"
}
[[ $1 =~ ^s3://[^/]+/.+ ]] || abort "malformed CODE-AREA '$1': expected s3://bucket/prefix"
area=${1%/}

machine=$(uname -m)
case $machine in
aarch64 | arm64) oracle_arch=arm64 ;;
x86_64 | x64) oracle_arch=x64 ;;
*) abort "$machine: unknown architecture" ;;
esac

ami=$(ami_type)
case $ami in
lava | SAK) info "AMI type is $ami" ;;
*) abort "AMI type is '$ami', not lava or SAK" ;;
esac

if sqlplus -V >/dev/null 2>&1; then
	info "the Oracle client is already installed: $(sqlplus -V | tr -s '\n' ' ')"
	exit 0
fi

info "installing the Oracle client ($ORACLE_TYPE and sqlplus, linux-$oracle_arch)"
"$(package_manager)" install -y libaio >&2 || abort "cannot install libaio"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lava-oracle.XXXXXX") || abort "cannot make a temporary directory"
oracle=$ROOT/opt/oracle
mkdir -p -- "$oracle" || abort "cannot create $oracle"
for package in "$ORACLE_TYPE" sqlplus; do
	zip=instantclient-$package-linux-$oracle_arch.zip
	fetched=
	for dir in _dist_/other _ami_/oracle; do
		if aws s3 cp --no-progress --only-show-errors "$area/$dir/$zip" "$tmp/$zip" >&2; then
			fetched=$area/$dir/$zip
			break
		fi
	done
	[[ -n $fetched ]] || abort "cannot fetch $zip from $area/_dist_/other/ or $area/_ami_/oracle/"
	info "unzipping $fetched into $oracle"
	unzip -qod "$oracle" "$tmp/$zip" >&2 || abort "cannot unzip $zip"
done

shopt -s nullglob
dirs=("$oracle"/instantclient_*)
[[ ${#dirs[@]} -eq 1 ]] || abort "expected one $oracle/instantclient_* directory, found ${#dirs[@]}"
client=${dirs[0]}
# Paths as the running system sees them (without the test root).
client_path=${client#"$ROOT"}
mkdir -p -- "$ROOT/etc/ld.so.conf.d" "$ROOT/usr/bin" || abort "cannot create the system directories"
echo "$client_path" >"$ROOT/etc/ld.so.conf.d/oracle-instantclient.conf" ||
	abort "cannot register $client_path with the dynamic linker"
if [[ -z $ROOT ]]; then
	ldconfig || abort "ldconfig failed"
fi
ln -sfn -- "$client_path/sqlplus" "$ROOT/usr/bin/sqlplus" || abort "cannot link /usr/bin/sqlplus"

version=${client##*/instantclient_}
info "Oracle instant client ${version//_/.} installed in $client_path"
