# ---- from misc/lib/log.sh: messages to stderr and to syslog, worded as
# upstream's (logger -t PROG, facility local0). logger is optional: without
# it, stderr only. Needs PROG.
# shellcheck shell=bash

# log LEVEL MESSAGE...: "PROG: LEVEL: MESSAGE" to stderr, "LEVEL: MESSAGE" to
# syslog, INFO at local0.info, anything else (WARNING, ERROR) at local0.error.
log() {
	local level=$1 prio=error
	shift
	[[ $level != INFO ]] || prio=info
	printf '%s: %s: %s\n' "$PROG" "$level" "$*" >&2
	if command -v logger >/dev/null 2>&1; then
		logger -t "$PROG" -p "local0.$prio" -- "$level: $*" 2>/dev/null || true
	fi
}
info() { log INFO "$@"; }
warning() { log WARNING "$@"; }
error() { log ERROR "$@"; }
# abort MESSAGE...: log "ERROR: ABORT MESSAGE" and exit 1, which aborts the boot.
abort() {
	error "ABORT $*"
	exit 1
}
