#!/bin/sh
# Installs the Debian packages Herald needs to build, test and benchmark,
# only those that are missing (a no-op when everything is present).
set -e
PKGS="build-essential clang clang-format libclang-rt-14-dev node-llhttp libuv1-dev libcjson-dev libssl-dev libsqlite3-dev libcrypt-dev libpq-dev libvips-dev libcurl4-openssl-dev libhiredis-dev
      postgresql redis-server tzdata
      python3 python3-pytest python3-websockets python3-requests python3-aiosmtpd wrk curl jq procps iproute2
      chromium nodejs"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "deps: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
