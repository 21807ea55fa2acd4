#!/bin/sh
# Recording shim for the golden tests (system_golden_test.go). Linked under
# each command's name into a directory that is the whole of PATH, it appends
# its name and argv to $SHIM_LOG and answers queries from SHIM_* variables:
#   SHIM_ACTIVE=yes     the service is running
#   SHIM_ENABLED=yes    the service starts at boot
#   SHIM_SERVICE        the service name (for rc-update show)
#   SHIM_INSTALLED=V    the package is installed at version V
#   SHIM_CANDIDATE=V    the repositories offer version V
#   SHIM_FAIL="cmd arg" that command fails with status 1
# Only shell builtins are used: nothing else is on PATH.
cmd=${0##*/}
{
	[ -n "$DEBIAN_FRONTEND" ] && printf 'DEBIAN_FRONTEND=%s ' "$DEBIAN_FRONTEND"
	printf '%s' "$cmd"
	for a in "$@"; do
		case $a in
		*' '*) printf " '%s'" "$a" ;;
		*) printf ' %s' "$a" ;;
		esac
	done
	printf '\n'
} >>"$SHIM_LOG"

if [ -n "$SHIM_FAIL" ] && [ "$cmd $1" = "$SHIM_FAIL" ]; then
	echo "shim: $cmd $1 failed as asked" >&2
	exit 1
fi

running() { [ "$SHIM_ACTIVE" = yes ] && exit 0; exit 3; }
upgradable() { [ -n "$SHIM_CANDIDATE" ] && [ "$SHIM_CANDIDATE" != "$SHIM_INSTALLED" ]; }

case "$cmd:$1" in
systemctl:is-active) running ;;
systemctl:is-enabled)
	[ "$SHIM_ENABLED" = yes ] && exit 0
	exit 1 ;;
service:* | rc-service:*)
	[ "$2" = status ] && running
	exit 0 ;;
rc-update:show)
	echo "             sshd | default"
	[ "$SHIM_ENABLED" = yes ] && echo "   $SHIM_SERVICE | default"
	exit 0 ;;
dpkg-query:-W)
	if [ -n "$SHIM_INSTALLED" ]; then
		printf 'install ok installed %s' "$SHIM_INSTALLED"
		exit 0
	fi
	echo "dpkg-query: no packages found matching $5" >&2
	exit 1 ;;
apt-cache:policy)
	printf '%s:\n  Installed: %s\n  Candidate: %s\n' "$2" "${SHIM_INSTALLED:-(none)}" "${SHIM_CANDIDATE:-(none)}"
	exit 0 ;;
rpm:-q)
	if [ -n "$SHIM_INSTALLED" ]; then
		printf '%s\n' "$SHIM_INSTALLED"
		exit 0
	fi
	echo "package $5 is not installed"
	exit 1 ;;
dnf:-q | yum:-q)
	if upgradable; then
		printf '%s.x86_64 %s updates\n' "$3" "$SHIM_CANDIDATE"
		exit 100
	fi
	exit 0 ;;
apk:info)
	[ -n "$SHIM_INSTALLED" ] && exit 0
	exit 1 ;;
apk:list)
	if [ "$2" = -I ] && [ -n "$SHIM_INSTALLED" ]; then
		printf '%s-%s x86_64 {%s} (MIT) [installed]\n' "$3" "$SHIM_INSTALLED" "$3"
	fi
	if [ "$2" = -u ] && upgradable; then
		printf '%s-%s x86_64 {%s} (MIT) [upgradable from: %s-%s]\n' "$3" "$SHIM_CANDIDATE" "$3" "$3" "$SHIM_INSTALLED"
	fi
	exit 0 ;;
esac
exit 0
