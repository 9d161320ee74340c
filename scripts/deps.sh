#!/usr/bin/env bash
# Install what mt6d needs to build, test and run its demo on Debian 12.
# Idempotent: does nothing when every package is already there.
set -euo pipefail

pkgs=(
	build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
	libsodium-dev libev-dev libmnl-dev libinih-dev libcmocka-dev libssl-dev libseccomp-dev libcap-dev
	libmicrohttpd-dev libjansson-dev
	python3 python3-nacl python3-libtorrent
	iproute2 nftables conntrack iperf3 tcpdump tshark procps psmisc iputils-ping bc
	wireguard-go wireguard-tools
	chromium chromium-driver python3-selenium python3-prometheus-client
	debhelper lintian man-db util-linux
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: need root to install: ${missing[*]}" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; the default (no) is fine.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
