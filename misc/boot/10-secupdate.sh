#!/bin/bash
# ------------------------------------------------------------------------------
# 10-secupdate.sh -- boot scriptlet: apply pending security updates.
#
# Deployed as <code-area>/_boot_/10-secupdate.sh and run by root.boot.sh as
#
#     10-secupdate.sh s3://<bucket>/<prefix> <REALM> <WORKER>
#
# Usage: 10-secupdate.sh [-h] CODE-AREA REALM WORKER
#
# The arguments are part of the scriptlet contract but not used here.
# With dnf (Amazon Linux 2023) or else yum (Amazon Linux 2) it checks for
# security updates and installs them. Installing is retried after 5 and 10
# seconds: early in boot the package database may be busy (e.g. the SSM
# agent updating itself).
#
# Settings (edit here, or set in the environment):
#   LAVA_SECUPDATE=yes|no         check for and apply updates (default yes)
#   LAVA_SECUPDATE_REBOOT=no|yes  reboot after applying updates (default no).
#                                 /NO-REBOOT (upstream's guard file) guards
#                                 against a reboot loop: after a reboot for
#                                 updates, no boot reboots again until one
#                                 finishes without rebooting.
#   LAVA_SECUPDATE_FAIL_EXIT=2|1  status on failure: 2 (default) lets the boot
#                                 go on, 1 makes root.boot.sh abort it.
#   LAVA_SECUPDATE_MARKER=PATH    the guard file (default /NO-REBOOT).
#
# Messages go to stderr and to syslog (logger, facility local0).
#
# Exit status (as upstream's):
#   0  no updates needed, updates applied, or a reboot to apply them was
#      started (the boot run goes on until the reboot ends it; the next boot
#      runs every scriptlet again from the user data)
#   1  failure, when LAVA_SECUPDATE_FAIL_EXIT=1
#   2  failure (no dnf/yum, check or update failed, usage error); the boot
#      goes on. Unexpected errors also exit 2, never 1.
# ------------------------------------------------------------------------------

set -euo pipefail

PROG=$(basename -- "$0")

ENABLED=${LAVA_SECUPDATE:-yes}
REBOOT=${LAVA_SECUPDATE_REBOOT:-no}
FAIL_EXIT=${LAVA_SECUPDATE_FAIL_EXIT:-2}
RETRY_SLEEPS=(0 5 10)
REBOOT_MARKER=${LAVA_SECUPDATE_MARKER:-/NO-REBOOT}

usage() {
	cat <<EOF
Usage: $PROG [-h] CODE-AREA REALM WORKER

Boot scriptlet: install pending security updates with dnf or yum.
Environment: LAVA_SECUPDATE=yes|no, LAVA_SECUPDATE_REBOOT=no|yes,
LAVA_SECUPDATE_FAIL_EXIT=2|1.
EOF
}

# @include lib/log.sh

# Exit 1 only when we mean it: anything else that goes wrong (set -e, set -u)
# must not abort the boot.
deliberate=
on_exit() {
	local status=$?
	[[ $status -eq 0 || $status -eq 2 || -n $deliberate ]] || exit 2
}
trap on_exit EXIT

fail() {
	error "$*"
	deliberate=yes
	exit "$FAIL_EXIT"
}

# ------------------------------------------------------------------------------
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
	usage
	exit 0
fi
if [[ $# -ne 3 ]]; then
	usage >&2
	error "expected 3 arguments, got $#"
	exit 2
fi
case $FAIL_EXIT in
1 | 2) ;;
*)
	warning "LAVA_SECUPDATE_FAIL_EXIT=$FAIL_EXIT is not 1 or 2: using 2"
	FAIL_EXIT=2
	;;
esac

if [[ $ENABLED != yes ]]; then
	info "security updates disabled (LAVA_SECUPDATE=$ENABLED)"
	exit 0
fi

if command -v dnf >/dev/null 2>&1; then
	pm=dnf
elif command -v yum >/dev/null 2>&1; then
	pm=yum
else
	fail "neither dnf nor yum found: cannot apply security updates"
fi

info "checking for security updates ($pm)"
check=0
"$pm" -q check-update --security >/dev/null || check=$?
case $check in
0)
	info "no security updates needed"
	rm -f -- "$REBOOT_MARKER"
	exit 0
	;;
100) ;;
*) fail "$pm check-update --security failed with status $check" ;;
esac

info "installing security updates"
applied=
for pause in "${RETRY_SLEEPS[@]}"; do
	if [[ $pause -gt 0 ]]; then
		info "retrying in $pause seconds"
		sleep "$pause"
	fi
	update=0
	"$pm" -y -q update --security || update=$?
	if [[ $update -eq 0 ]]; then
		applied=yes
		break
	fi
	error "$pm update --security failed with status $update"
done
[[ -n $applied ]] || fail "security updates failed after ${#RETRY_SLEEPS[@]} attempts"
info "security updates installed"

if [[ $REBOOT == yes ]]; then
	# The marker stays until a boot gets through without rebooting.
	[[ ! -e $REBOOT_MARKER ]] ||
		fail "updates installed but the previous boot already rebooted for updates: not rebooting again"
	touch -- "$REBOOT_MARKER" || fail "cannot create $REBOOT_MARKER: not rebooting"
	info "rebooting to complete security updates"
	if command -v systemctl >/dev/null 2>&1; then
		systemctl reboot || fail "reboot failed"
	else
		reboot || fail "reboot failed"
	fi
	exit 0
fi

# A boot that got this far without rebooting ends any reboot-loop guard.
rm -f -- "$REBOOT_MARKER"
