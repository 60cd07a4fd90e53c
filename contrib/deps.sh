#!/usr/bin/env bash
# Install what building and testing jit-agent needs (Debian 12, as root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
	build-essential meson ninja-build pkg-config clang clang-format \
	libsodium-dev libuv1-dev libjson-c-dev libinih-dev libudev-dev \
	libssl-dev libfido2-dev libcbor-dev libtss2-dev \
	libsystemd-dev dbus-daemon zsh \
	swtpm swtpm-tools tpm2-tools \
	faketime \
	openssl \
	openssh-client openssh-server postgresql postgresql-client \
	python3 python3-botocore scdoc util-linux procps bsdutils git \
	rsyslog prometheus-node-exporter libsystemd-dev curl jq \
	pcscd vsmartcard-vpcd libpcsclite-dev libykpiv-dev yubico-piv-tool \
	ykcs11 yubikey-manager \
	ca-certificates \
	dpkg-dev gdb softhsm2 \
	tcsh \
	openssl python3-yaml \
	valgrind

# The tests run as this ordinary user: started as root, they drop to it
# (tests/lib/testuser.py); sshd's tests log in as it, so it has a shell.
if ! id -u jit-e2e >/dev/null 2>&1; then
	useradd --create-home --user-group --shell /bin/bash \
	    --comment 'jit-agent tests' jit-e2e
fi
