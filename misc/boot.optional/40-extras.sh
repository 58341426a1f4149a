#!/bin/bash
# ------------------------------------------------------------------------------
# 40-extras.sh -- optional boot scriptlet: what a SAK AMI lacks for lava.
#
# The lava AMI has all of it: there this scriptlet does nothing. Deploy it
# with the boot component (`optional: [40-extras.sh]` in deploy.yaml) as
# <code-area>/_boot_/40-extras.sh; root.boot.sh runs it as
#
#     40-extras.sh s3://<bucket>/<prefix> <REALM> <WORKER>
#
# Usage: 40-extras.sh [-h] CODE-AREA REALM WORKER
#
# As upstream's scriptlet, on a SAK AMI it:
#   - installs docker (and restarts it) when `docker` is not installed;
#   - installs every <code-area>/_dist_/rpm/**/*.<arch>.rpm (packages that are
#     not in the AWS repositories; the boot must not depend on public ones);
#   - installs unixODBC and registers the FreeTDS ODBC driver
#     (/usr/lib64/libtdsodbc.so.0).
#
# For tests, LAVA_BOOT_ROOT=DIR reads the AMI type below DIR.
#
# Messages go to stderr and to syslog (logger, facility local0).
#
# Exit status (as upstream's):
#   0  done, or nothing to do on a lava AMI
#   1  abort the boot: not a lava or SAK AMI, unknown architecture, bad
#      arguments, or the RPMs cannot be fetched
# ------------------------------------------------------------------------------

set -uo pipefail

PROG=$(basename -- "$0")
TDS_DRIVER=/usr/lib64/libtdsodbc.so.0

usage() {
	cat <<EOF
Usage: $PROG [-h] CODE-AREA REALM WORKER

Optional boot scriptlet for SAK AMIs: docker, the RPMs in
CODE-AREA/_dist_/rpm/ for this architecture, unixODBC with FreeTDS.
Does nothing on a lava AMI.
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

machine=$(uname -m)
case $machine in
aarch64 | arm64) arch=aarch64 ;;
x86_64 | x64) arch=x86_64 ;;
*) abort "$machine: unknown architecture" ;;
esac

ami=$(ami_type)
case $ami in
lava)
	info "nothing to do on a lava AMI"
	exit 0
	;;
SAK) info "AMI type is SAK" ;;
*) abort "AMI type is '$ami', not lava or SAK" ;;
esac

[[ $1 =~ ^s3://[^/]+/.+ ]] || abort "malformed CODE-AREA '$1': expected s3://bucket/prefix"
area=${1%/}
pm=$(package_manager)

docker info >/dev/null 2>&1
if [[ $? -eq 127 ]]; then
	info "installing docker"
	"$pm" install -y docker >&2 || error "cannot install docker"
	systemctl restart docker >&2 || error "cannot restart docker"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lava-extras.XXXXXX") || abort "cannot make a temporary directory"
aws s3 cp --no-progress --only-show-errors --recursive "$area/_dist_/rpm/" "$tmp" \
	--exclude '*' --include "*.$arch.rpm" >&2 || abort "cannot fetch the RPMs in $area/_dist_/rpm/"
mapfile -t rpms < <(find "$tmp" -type f -name "*.$arch.rpm" | sort)
if [[ ${#rpms[@]} -gt 0 ]]; then
	info "installing ${#rpms[@]} RPM(s) from $area/_dist_/rpm/"
	"$pm" install -y "${rpms[@]}" >&2 || error "cannot install the RPMs"
fi

info "installing unixODBC and the FreeTDS driver"
"$pm" install -y unixODBC-devel >&2 || error "cannot install unixODBC-devel"
odbcinst -i -d -r >&2 <<EOF || error "cannot register the FreeTDS ODBC driver"
[FreeTDS]
Description = FreeTDS ODBC driver
Driver = $TDS_DRIVER
EOF
info "done"
