#!/bin/sh
# Installs the named Debian packages that are not installed yet. Needs root for apt-get.
# A name counts as installed when an installed package provides it (NodeSource's nodejs
# provides npm and conflicts with Debian's npm package).
set -eu
provided=$(dpkg-query -W -f='${db:Status-Abbrev}|${Provides}\n' 2>/dev/null |
           sed -n 's/^ii *|//p' | tr ',' '\n' | sed 's/^ *//; s/ .*//')
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && continue
    printf '%s\n' "$provided" | grep -qx "$p" && continue
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing Debian packages:$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "error: need root to install:$missing (or install them yourself)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
