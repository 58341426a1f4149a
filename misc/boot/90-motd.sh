#!/bin/bash
# ------------------------------------------------------------------------------
# 90-motd.sh -- boot scriptlet: name the lava realm, worker and version in the
# message of the day.
#
# Deployed as <code-area>/_boot_/90-motd.sh and run by root.boot.sh, after
# 50-lava.sh has installed lava, as
#
#     90-motd.sh s3://<bucket>/<prefix> <REALM> <WORKER>
#
# Usage: 90-motd.sh [-h] CODE-AREA REALM WORKER
#
# The lava version is what `lava-version` prints ("not installed" when it
# cannot run). Where the text goes depends on how the host builds its motd:
#   - /etc/update-motd.d/ exists (lava AMI on Amazon Linux 2 and 2023, Ubuntu):
#     a fragment script /etc/update-motd.d/30-lava-worker that prints it, then
#     the motd is regenerated: `systemctl restart update-motd` when that unit
#     exists (Amazon Linux 2), else /usr/sbin/update-motd when present; hosts
#     with neither (Ubuntu) run the fragments at login.
#   - otherwise: a static /etc/motd.d/30-lava-worker, which pam_motd shows.
# Re-running replaces the fragment.
#
# For tests, LAVA_MOTD_ROOT=/some/dir puts /etc/... and /usr/sbin/update-motd
# under that directory (systemctl is the one on PATH).
#
# Messages go to stderr and to syslog (logger, facility local0).
#
# Exit status: 0 done; 2 anything failed (usage error included). Never 1: the
# motd is not worth aborting a boot for.
# ------------------------------------------------------------------------------

set -euo pipefail

PROG=$(basename -- "$0")

ROOT=${LAVA_MOTD_ROOT:-}
UPDATE_MOTD_DIR=$ROOT/etc/update-motd.d
MOTD_DIR=$ROOT/etc/motd.d
FRAGMENT=30-lava-worker

usage() {
	cat <<EOF
Usage: $PROG [-h] CODE-AREA REALM WORKER

Boot scriptlet: add the lava realm, worker and version to the message of the
day ($UPDATE_MOTD_DIR/$FRAGMENT or $MOTD_DIR/$FRAGMENT).
EOF
}

# @include lib/log.sh

# Any failure, expected or not, exits 2 so that the boot goes on.
on_exit() {
	local status=$?
	[[ $status -eq 0 ]] || exit 2
}
trap on_exit EXIT

fail() {
	error "$*"
	exit 2
}

# printable TEXT: TEXT without control characters.
printable() { printf '%s' "${1//[^[:print:]]/}"; }

# install_file MODE PATH: write stdin to PATH atomically with MODE.
install_file() {
	local tmp
	tmp=$(mktemp "$2.XXXXXX")
	if cat >"$tmp" && chmod "$1" "$tmp" && mv -f -- "$tmp" "$2"; then
		return 0
	fi
	rm -f -- "$tmp"
	return 1
}

# ------------------------------------------------------------------------------
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
	usage
	exit 0
fi
if [[ $# -ne 3 ]]; then
	usage >&2
	fail "expected 3 arguments, got $#"
fi

area=$(printable "$1")
realm=$(printable "$2")
worker=$(printable "$3")

version=$(PATH=/usr/local/bin:$PATH lava-version 2>/dev/null | head -n 1) || version=
version=$(printable "$version")
[[ -n $version ]] || version="not installed"

text=$(
	cat <<EOF

Lava worker
  Realm:      $realm
  Worker:     $worker
  Lava:       $version
  Code area:  $area
  Set up:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')

EOF
)

if [[ -d $UPDATE_MOTD_DIR ]]; then
	target=$UPDATE_MOTD_DIR/$FRAGMENT
	# The quoted here-document delimiter keeps the text literal in the
	# generated script; no line of the text can equal the delimiter.
	install_file 755 "$target" <<EOF || fail "cannot write $target"
#!/bin/sh
# Written by $PROG at boot: lava worker identity for the motd.
cat <<'LAVA_MOTD_END'
$text
LAVA_MOTD_END
EOF
	info "wrote $target"

	if command -v systemctl >/dev/null 2>&1 &&
		systemctl cat update-motd.service >/dev/null 2>&1; then
		systemctl --quiet restart update-motd.service ||
			fail "cannot restart update-motd.service"
	elif [[ -x $ROOT/usr/sbin/update-motd ]]; then
		"$ROOT/usr/sbin/update-motd" >/dev/null || fail "$ROOT/usr/sbin/update-motd failed"
	else
		info "no update-motd: $target runs at login"
	fi
else
	mkdir -p -- "$MOTD_DIR" || fail "cannot create $MOTD_DIR"
	target=$MOTD_DIR/$FRAGMENT
	install_file 644 "$target" <<<"$text" || fail "cannot write $target"
	info "wrote $target"
fi

info "motd names realm $realm, worker $worker, lava $version"
