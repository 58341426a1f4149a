# ---- from misc/lib/fetch_lava_boot.sh: needs info and abort (lib/log.sh).
# shellcheck shell=bash

# fetch SOURCE DEST: copy one object of the code area.
fetch() {
	case $1 in
	s3://*) aws s3 cp --no-progress --only-show-errors "$1" "$2" ;;
	file://*) cp -- "${1#file://}" "$2" ;;
	esac
}

# fetch_lava_boot AREA DIR: AREA/_dist_/boot/lava-boot-<arch> for this machine
# into DIR/lava-boot, checked against AREA/_dist_/boot/SHA256SUMS.
fetch_lava_boot() {
	local area=$1 dir=$2 machine arch name want got
	machine=$(uname -m)
	case $machine in
	x86_64 | amd64 | x64) arch=x86_64 ;;
	aarch64 | arm64) arch=aarch64 ;;
	*) abort "unsupported architecture '$machine' (lava-boot is built for x86_64 and aarch64)" ;;
	esac
	name=lava-boot-$arch
	info "fetching $area/_dist_/boot/$name"
	fetch "$area/_dist_/boot/$name" "$dir/lava-boot" ||
		abort "cannot fetch $area/_dist_/boot/$name (deploy the boot component built by 'cargo xtask dist')"
	fetch "$area/_dist_/boot/SHA256SUMS" "$dir/SHA256SUMS" ||
		abort "cannot fetch $area/_dist_/boot/SHA256SUMS, so $name cannot be verified"
	want=$(awk -v f="$name" '$2 == f || $2 == "*" f { print $1; exit }' "$dir/SHA256SUMS")
	[[ -n $want ]] || abort "$name is not listed in $area/_dist_/boot/SHA256SUMS"
	got=$(sha256sum "$dir/lava-boot")
	got=${got%% *}
	[[ $got == "$want" ]] || abort "$name does not match SHA256SUMS (sha256 $got, expected $want)"
	chmod 755 "$dir/lava-boot"
}
