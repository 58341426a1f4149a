#!/bin/bash
# ------------------------------------------------------------------------------
# root.boot0.sh -- early boot stage of an EC2 lava worker.
#
# Deployed per worker as <code-area>/<REALM>/<WORKER>/root.boot0.sh. The worker
# launch template's user data ("shell0") has the lava AMI fetch it with s3run
# and run it as root before anything else, with the same arguments as
# root.boot.sh:  root.boot0.sh s3://<bucket>/<prefix> <REALM> <WORKER>
#
# Usage: root.boot0.sh [-h] CODE-AREA REALM WORKER
#
# It prepares the optional extra EBS volumes the worker CloudFormation
# template attaches, using the lava AMI's volprep (which makes a file system
# if there is none, mounts the device, records it in /etc/fstab and sets the
# mount point's mode):
#
#   /dev/xvdb  (tmpVolumeSize > 0)     mounted on /tmp, mode 1777
#   /dev/xvdc  (dockerVolumeSize > 0)  mounted on /mnt/docker, mode 0711, with
#              /var/lib/docker a link to it. Docker is stopped meanwhile and an
#              existing /var/lib/docker directory is kept as
#              /var/lib/docker.orig.
#
# A device that is absent is skipped. The arguments are only logged: this
# stage needs nothing from S3.
#
# For tests, these environment variables replace the fixed paths:
# LAVA_TMP_VOL, LAVA_DOCKER_VOL, LAVA_VOLPREP, LAVA_TMP_DIR, LAVA_DOCKER_MNT,
# LAVA_DOCKER_BASE.
#
# Messages go to stderr and to syslog (logger, facility local0).
#
# Exit status:
#   0  done (including: nothing to do)
#   1  a volume could not be prepared, or docker not stopped/restarted
#      (logged; the caller, the AMI's user data runner, only logs it)
#   2  usage error
# ------------------------------------------------------------------------------

# It calls neither warning nor abort of lib/log.sh.
# shellcheck disable=SC2329
set -euo pipefail

PROG=$(basename -- "$0")

TMP_VOL=${LAVA_TMP_VOL:-/dev/xvdb}
TMP_DIR=${LAVA_TMP_DIR:-/tmp}
DOCKER_VOL=${LAVA_DOCKER_VOL:-/dev/xvdc}
DOCKER_MNT=${LAVA_DOCKER_MNT:-/mnt/docker}
DOCKER_BASE=${LAVA_DOCKER_BASE:-/var/lib/docker}
VOLPREP=${LAVA_VOLPREP:-/usr/local/sbin/volprep}

usage() {
	cat <<EOF
Usage: $PROG [-h] CODE-AREA REALM WORKER

Early boot stage of a lava worker: prepare the optional extra volumes
($TMP_VOL on $TMP_DIR, $DOCKER_VOL on $DOCKER_MNT for $DOCKER_BASE).
EOF
}

# @include lib/log.sh

# volprep_run ARGS...: run volprep, logging what it says.
volprep_run() {
	local out
	if [[ ! -x $VOLPREP ]]; then
		error "$VOLPREP not found: is this a lava AMI?"
		return 1
	fi
	if out=$("$VOLPREP" "$@" 2>&1); then
		[[ -z $out ]] || info "$out"
	else
		error "volprep $* failed: $out"
		return 1
	fi
}

# docker_ctl start|stop
docker_ctl() {
	if ! command -v systemctl >/dev/null 2>&1; then
		error "systemctl not found: cannot $1 docker"
		return 1
	fi
	if [[ $1 == stop ]]; then
		# Stop the socket too, or the next client request restarts docker.
		systemctl stop docker.socket >/dev/null 2>&1 || true
		systemctl stop docker.service
	else
		systemctl start docker.service
	fi
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

info "starting: area=$1 realm=$2 worker=$3"
status=0

if [[ -b $TMP_VOL ]]; then
	info "preparing $TMP_VOL for $TMP_DIR"
	volprep_run -m1777 "$TMP_VOL" "$TMP_DIR" || status=1
else
	info "no $TMP_VOL: $TMP_DIR stays on the root volume"
fi

if [[ -b $DOCKER_VOL ]]; then
	info "preparing $DOCKER_VOL for $DOCKER_BASE"
	if docker_ctl stop; then
		if [[ -d $DOCKER_BASE && ! -L $DOCKER_BASE ]]; then
			keep=$DOCKER_BASE.orig
			[[ ! -e $keep ]] || keep=$DOCKER_BASE.orig.$(date +%Y%m%d%H%M%S)
			info "keeping the existing $DOCKER_BASE as $keep"
			mv -- "$DOCKER_BASE" "$keep" || status=1
		fi
		volprep_run -l "$DOCKER_BASE" -m0711 "$DOCKER_VOL" "$DOCKER_MNT" || status=1
		docker_ctl start || {
			error "cannot restart docker"
			status=1
		}
	else
		error "cannot stop docker: $DOCKER_VOL left alone"
		status=1
	fi
else
	info "no $DOCKER_VOL: docker stays on the root volume"
fi

if [[ $status -eq 0 ]]; then
	info "done"
else
	error "finished with errors"
fi
exit "$status"
