#!/bin/bash
# ------------------------------------------------------------------------------
# install.sh -- install a lava worker bundle.
#
# Shipped at the root of every worker bundle
# lava-<ver>-<os>-py<M.m>-<arch>.tar.bz2 next to lava-run. The command line is
# the one upstream lava's installer has, so an upstream 50-lava.sh can extract
# this file from a bundle and run `install.sh -c -d <base> <bundle>`.
#
# Usage: install.sh [-c] [-b bindir] [-d base] [-h] bundle...
#
#   -c         Clean install: empty <base> first and remove the links in
#              <bindir> that point into it. Refused unless <base> looks like a
#              lava install (it holds lava/, pylib/, install.sh and
#              lava/version.py, and no .git).
#   -b bindir  Where the command links go. Default /usr/local/bin.
#   -d base    Install directory. Default /opt/lava.
#   -h         Print help and exit.
#   bundle     A .tar.bz2 bundle: a local file or s3://bucket/key. The first
#              one that exists is installed; the rest are ignored.
#
# What it does: extracts the bundle into <base> with
# `tar --no-same-owner -xjf` (GNU tar refuses members with `..` and strips a
# leading `/`), makes every directory and file world-readable (executables
# world-executable), then links each executable in <base>/bin into <bindir>:
# a Python script (first line is a #! line naming python) is linked to
# <base>/lava-run, which sets PYTHONPATH to the bundle root and pylib/ and runs
# <base>/bin/<name>; anything else is linked to itself. Python scripts are
# recognised by their first line, so file(1) is not needed.
#
# Messages go to stderr (upstream's installer does not use syslog).
#
# Exit status:
#   0  installed
#   1  failure: no bundle found, download or extraction. A link that cannot
#      be made (an existing non-link file in the way) is a warning, as
#      upstream's installer goes on past a failed ln: the boot must not stop
#      for one command.
#   2  usage error
#   3  -c refused: <base> does not look like a lava install, or holds .git
# ------------------------------------------------------------------------------

set -euo pipefail

PROG=$(basename -- "$0")
DEFAULT_BASE=/opt/lava
DEFAULT_BINDIR=/usr/local/bin

# What a directory must contain before -c may empty it.
REQUIRED_DIRS=(lava pylib)
REQUIRED_FILES=(install.sh lava/version.py)

usage() {
	cat <<EOF
Usage: $PROG [-c] [-b bindir] [-d base] [-h] bundle...

Install a lava worker bundle (lava-<ver>-<os>-py<M.m>-<arch>.tar.bz2).

  -c         Clean install: empty the install directory and remove the links
             in bindir that point into it. Refused unless the directory looks
             like a lava install (lava/, pylib/, install.sh, lava/version.py;
             no .git).
  -b bindir  Directory for the command links. Default $DEFAULT_BINDIR.
  -d base    Install directory. Default $DEFAULT_BASE.
  -h         Print this help and exit.
  bundle     Local path or s3://bucket/key of a .tar.bz2 bundle. The first
             one that exists is installed.

Exit status: 0 installed, 1 failure, 2 usage error, 3 clean install refused.
EOF
}

info() { printf '%s: %s\n' "$PROG" "$*" >&2; }
warn() { printf '%s: WARNING: %s\n' "$PROG" "$*" >&2; }
die() {
	local status=$1
	shift
	printf '%s: ERROR: %s\n' "$PROG" "$*" >&2
	exit "$status"
}

# ------------------------------------------------------------------------------
# s3_exists s3://bucket/key
s3_exists() {
	local path=${1#s3://}
	local bucket=${path%%/*}
	local key=${path#*/}
	[[ -n $bucket && -n $key && $key != "$path" ]] || return 1
	aws s3api head-object --bucket "$bucket" --key "$key" >/dev/null 2>&1
}

# looks_like_lava_install dir: succeeds if dir holds what a lava install holds.
looks_like_lava_install() {
	local d
	for d in "${REQUIRED_DIRS[@]}"; do
		[[ -d $1/$d ]] || return 1
	done
	for d in "${REQUIRED_FILES[@]}"; do
		[[ -f $1/$d ]] || return 1
	done
}

# is_python_script file: the first line is a #! line that mentions python.
is_python_script() {
	local first=
	IFS= read -r first <"$1" || true
	[[ $first == '#!'* && $first == *python* ]]
}

# ------------------------------------------------------------------------------
clean=no
base=$DEFAULT_BASE
bindir=$DEFAULT_BINDIR

while getopts ':cb:d:h' opt; do
	case $opt in
	c) clean=yes ;;
	b) bindir=$OPTARG ;;
	d) base=$OPTARG ;;
	h)
		usage
		exit 0
		;;
	:)
		usage >&2
		die 2 "option -$OPTARG needs an argument"
		;;
	*)
		usage >&2
		die 2 "unknown option -$OPTARG"
		;;
	esac
done
shift $((OPTIND - 1))

if [[ $# -eq 0 ]]; then
	usage >&2
	die 2 "no bundle given"
fi
[[ -n $base && -n $bindir ]] || die 2 "base and bindir must not be empty"

# ------------------------------------------------------------------------------
# Find the bundle: the first argument that exists.

tmp=
cleanup() { [[ -z $tmp ]] || rm -rf -- "$tmp"; }
trap cleanup EXIT

bundle=
for loc in "$@"; do
	if [[ $loc == s3://* ]]; then
		s3_exists "$loc" || {
			info "not found: $loc"
			continue
		}
		tmp=$(mktemp -d "${TMPDIR:-/tmp}/lava-install.XXXXXX")
		info "downloading $loc"
		aws s3 cp --no-progress --only-show-errors "$loc" "$tmp/" ||
			die 1 "cannot download $loc"
		bundle=$tmp/${loc##*/}
		break
	elif [[ -f $loc ]]; then
		bundle=$loc
		break
	else
		info "not found: $loc"
	fi
done

[[ -n $bundle ]] || die 1 "none of the given bundles exists: $*"
[[ $bundle == *.tar.bz2 ]] || die 1 "$loc: not a lava bundle (expected a .tar.bz2)"
info "installing $loc"

# ------------------------------------------------------------------------------
# Clean an existing install, but only one that is recognisably lava's.

if [[ $clean == yes && -e $base ]]; then
	[[ -d $base ]] || die 3 "$base: not a directory; refusing to clean it"
	abs_base=$(cd -P -- "$base" && pwd -P)
	logical_base=$(cd -- "$base" && pwd)
	[[ $abs_base != / ]] || die 3 "refusing to clean /"
	[[ ! -e $abs_base/.git ]] ||
		die 3 "$abs_base holds .git (a source checkout?); refusing to clean it"
	looks_like_lava_install "$abs_base" ||
		die 3 "$abs_base does not look like a lava install (needs lava/, pylib/, install.sh, lava/version.py); refusing to clean it"

	info "cleaning $abs_base"
	if [[ -d $bindir ]]; then
		# Only the links that lead into this install: other files in bindir
		# are not ours to remove.
		for link in "$bindir"/*; do
			[[ -L $link ]] || continue
			target=$(readlink -- "$link") || continue
			[[ $target == "$abs_base"/* || $target == "$logical_base"/* ]] || continue
			rm -f -- "$link"
		done
	fi
	# Empty the directory rather than removing it: it may be a mount point.
	find "$abs_base" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +
fi

# ------------------------------------------------------------------------------
# Extract and fix permissions.

umask 022
mkdir -p -- "$base" || die 1 "cannot create $base"
mkdir -p -- "$bindir" || die 1 "cannot create $bindir"
abs_base=$(cd -P -- "$base" && pwd -P)

info "extracting into $abs_base"
tar --no-same-owner -C "$abs_base" -xjf "$bundle" || die 1 "cannot extract $bundle"

[[ -d $abs_base/lava && -d $abs_base/bin && -f $abs_base/lava-run ]] ||
	die 1 "$loc: not a lava bundle (lava/, bin/ or lava-run missing after extraction)"

find "$abs_base" -type d -exec chmod go+rx -- {} +
find "$abs_base" -type f -exec chmod go+r -- {} +
find "$abs_base" -type f -perm -u+x -exec chmod go+x -- {} +
chmod a+rx -- "$abs_base/lava-run"

# ------------------------------------------------------------------------------
# Link the commands.

info "linking commands into $bindir"
while IFS= read -r -d '' cmd; do
	name=${cmd##*/}
	if is_python_script "$cmd"; then
		target=$abs_base/lava-run
	else
		target=$cmd
	fi
	link=$bindir/$name
	if [[ -e $link && ! -L $link ]]; then
		warn "$link exists and is not a link; not replacing it"
		continue
	fi
	ln -sfn -- "$target" "$link" || warn "cannot link $link -> $target"
done < <(find "$abs_base/bin" -mindepth 1 -maxdepth 1 -type f -perm -u+x -print0 | LC_ALL=C sort -z)

info "done"
