#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (dashboard) when it is
# missing. make test runs it next to the control-plane build.
set -euo pipefail
for b in chromium chromium-browser google-chrome; do
	if command -v "$b" >/dev/null 2>&1; then
		exit 0
	fi
done
if ! command -v apt-get >/dev/null 2>&1; then
	echo ">> Chromium is missing and apt-get is not available: install Chromium to run the browser tests (they skip without it, and fail in CI)" >&2
	exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo ">> installing Chromium for the browser tests (apt-get install chromium; once)"
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
echo ">> installed $(chromium --version 2>/dev/null || echo chromium)"
