#!/usr/bin/env bash
# Install what building and testing jit-agent needs (Debian 12, as root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
	build-essential meson ninja-build pkg-config clang clang-format \
	libsodium-dev libuv1-dev libjson-c-dev libinih-dev libudev-dev \
	libssl-dev libfido2-dev libcbor-dev libtss2-dev \
	swtpm swtpm-tools tpm2-tools \
	openssh-client openssh-server postgresql postgresql-client \
	python3 scdoc util-linux procps bsdutils git ca-certificates
