# ---- from misc/lib/ami_type.sh
# shellcheck shell=bash

# ami_type: lava, SAK or unknown, as upstream tells them apart (below
# LAVA_BOOT_ROOT when set, for tests).
ami_type() {
	local etc=${LAVA_BOOT_ROOT:-}/usr/local/etc AMI_TYPE=
	if [[ -f $etc/ami-info ]]; then
		# shellcheck disable=SC1091
		. "$etc/ami-info"
		echo "${AMI_TYPE:-unknown}"
	elif [[ -f $etc/rc.d/00_shell.sh ]]; then
		echo SAK
	else
		echo unknown
	fi
}
