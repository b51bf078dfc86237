#!/usr/bin/env bash
# Installs what the loopback SAML IdPs need (Debian/Ubuntu, apt). Idempotent and quiet:
# nothing is done when every package is already installed; `apt-get update` only runs
# when something is missing. Waits for the dpkg lock if another apt is running.
set -euo pipefail
PKGS=(simplesamlphp php-cli php-xml php-mbstring xmlsec1 openssl)
missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "saml-idp: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
# simplesamlphp recommends apache2 and friends; none of it is needed for `php -S`.
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
