#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Make sure the Debian packages the build needs are present.  As root,
# install what is missing; otherwise stop with the exact apt-get line.
set -e
missing=""
command -v cmake >/dev/null 2>&1 || missing="$missing cmake"
command -v make >/dev/null 2>&1 || missing="$missing make"
command -v gcc >/dev/null 2>&1 || missing="$missing gcc"
[ -f /usr/include/cmocka.h ] || missing="$missing libcmocka-dev"
if [ "${1:-}" = "--clang" ]; then
	command -v clang >/dev/null 2>&1 || missing="$missing clang"
fi
# test-qemu: the bare-metal port boots in QEMU (and links with binutils).
if [ "${1:-}" = "--qemu" ]; then
	command -v qemu-system-x86_64 >/dev/null 2>&1 || missing="$missing qemu-system-x86"
	command -v objcopy >/dev/null 2>&1 || missing="$missing binutils"
	command -v timeout >/dev/null 2>&1 || missing="$missing coreutils"
fi
# Optional: line editing for `irqkit shell`; installed when possible, never required.
if [ ! -f /usr/include/editline/readline.h ] && [ "$(id -u)" = "0" ] &&
	command -v apt-get >/dev/null 2>&1; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libedit-dev >/dev/null 2>&1 || true
fi
# Optional: spin, for the Promela models of tests/spin (their ctest is skipped without it).
if ! command -v spin >/dev/null 2>&1 && [ "$(id -u)" = "0" ] &&
	command -v apt-get >/dev/null 2>&1; then
	{ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq spin ||
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq spin; }; } \
		>/dev/null 2>&1 || true
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq $missing
	exit 0
fi
echo "deps: missing Debian packages. Run:" >&2
echo "  sudo apt-get install -y$missing" >&2
exit 1
