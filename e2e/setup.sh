#!/bin/sh
# Installs what the end-to-end tests need on Debian: OpenSSH's sshd, sudo
# and iproute2 (ip netns). Idempotent and quiet; does nothing when all is
# present. Runs as root. The tests start their own sshd per network
# namespace, so the system ssh service is left as the package sets it up.
set -eu

missing=""
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || missing="$missing iproute2"
[ -x /usr/sbin/sshd ] || missing="$missing openssh-server"
[ -x /usr/bin/sudo ] || missing="$missing sudo"

if [ -z "$missing" ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "e2e/setup.sh: missing packages:$missing; run as root to install them" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
install() {
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}
# Only refresh the package lists when the packages cannot be found.
if ! install 2>/dev/null; then
	apt-get update -qq >/dev/null
	install
fi
