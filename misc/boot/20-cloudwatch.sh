#!/bin/bash
# ------------------------------------------------------------------------------
# 20-cloudwatch.sh -- boot scriptlet: ship the worker's lava log to CloudWatch.
#
# Deployed as <code-area>/_boot_/20-cloudwatch.sh and run by root.boot.sh as
#
#     20-cloudwatch.sh s3://<bucket>/<prefix> <REALM> <WORKER>
#
# Usage: 20-cloudwatch.sh [-h] CODE-AREA REALM WORKER
#
# Lava logs to syslog facility local0, which the lava AMI's rsyslog writes to
# /var/log/lava. This adds that file to the Amazon CloudWatch Agent's
# configuration, as upstream's scriptlet does:
#
#     log group   /var/log/lava/<REALM>
#     log stream  <WORKER>/{instance_id}
#
# and reloads the agent. The worker template's heartbeat alarm counts events
# in that log group (missing data is breaching), so a worker without this
# raises the alarm for ever.
#
# It runs on every boot (the AMI replays the user data after a reboot): an
# entry already there is left alone, never added twice. The configuration as
# it was before the first change is kept as config.json.orig.
#
# For tests, LAVA_CWAGENT_DIR replaces /opt/aws/amazon-cloudwatch-agent.
#
# Messages go to stderr and to syslog (logger, facility local0).
#
# Exit status: 0 when the agent ships the log, else 2 (the boot goes on:
# missing log shipping must not keep lava from starting). Never 1.
# ------------------------------------------------------------------------------

set -uo pipefail

PROG=$(basename -- "$0")

AGENT_DIR=${LAVA_CWAGENT_DIR:-/opt/aws/amazon-cloudwatch-agent}
CONF=$AGENT_DIR/etc/config.json
CTL=$AGENT_DIR/bin/amazon-cloudwatch-agent-ctl
LOG_FILE=/var/log/lava

usage() {
	cat <<EOF
Usage: $PROG [-h] CODE-AREA REALM WORKER

Boot scriptlet: add $LOG_FILE to the CloudWatch Agent's logs (group
$LOG_FILE/REALM, stream WORKER/{instance_id}) and reload the agent.
EOF
}

# @include lib/log.sh

# Any failure lets the boot go on: status 2, never 1.
fail() {
	error "$*"
	exit 2
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
realm=$2
worker=$3

[[ -f $CONF ]] || fail "no CloudWatch Agent configuration $CONF: is this a lava AMI?"
[[ -f $CONF.orig ]] || cp -p -- "$CONF" "$CONF.orig" || fail "cannot keep $CONF as $CONF.orig"

# The values go in as arguments, never as code.
added=$(python3 - "$CONF" "$LOG_FILE" "$LOG_FILE/$realm" "$worker/{instance_id}" <<'EOF'
import json, os, sys

path, file_path, group, stream = sys.argv[1:]
with open(path) as f:
    conf = json.load(f)
files = conf.setdefault("logs", {}).setdefault("logs_collected", {}).setdefault("files", {})
collect = files.setdefault("collect_list", [])
entry = {"file_path": file_path, "log_group_name": group, "log_stream_name": stream}
if entry in collect:
    print("no")
    sys.exit(0)
collect.append(entry)
tmp = path + ".new"
with open(tmp, "w") as f:
    json.dump(conf, f, indent=2)
    f.write("\n")
os.replace(tmp, path)
print("yes")
EOF
) || fail "cannot update $CONF"

if [[ $added == yes ]]; then
	info "added $LOG_FILE (group $LOG_FILE/$realm, stream $worker/{instance_id}) to $CONF"
else
	info "$CONF already ships $LOG_FILE to $LOG_FILE/$realm"
fi

info "reloading the CloudWatch Agent"
"$CTL" -a fetch-config -m ec2 -c "file:$CONF" -s >&2 || fail "CloudWatch Agent reload failed (status $?)"
info "done"
