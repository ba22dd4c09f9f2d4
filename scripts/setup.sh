#!/usr/bin/env bash
# Installs what i2v needs from Debian 12 packages (as root) and builds it:
# build/ (release) and, with --asan, build-asan/ (AddressSanitizer + UBSan).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential pkg-config meson ninja-build
  libavcodec-dev libavformat-dev libavutil-dev libx264-dev
  libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev libwebp-dev libheif-dev libexif-dev zlib1g-dev
  libsqlite3-dev libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev libssl-dev
  libcmocka-dev ffmpeg python3 python3-pytest python3-numpy python3-requests wrk
  libheif-examples clang libclang-rt-14-dev
  libpq-dev postgresql python3-psycopg2 curl openssl python3-jsonschema python3-prometheus-client
  chromium
)
# Node.js runs the S3 test server (tests/s3): Debian's, unless one is installed.
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The S3-compatible test server, exactly as tests/s3/package-lock.json pins it.
if [ ! -f tests/s3/node_modules/.package-lock.json ] ||
   ! cmp -s tests/s3/package-lock.json tests/s3/.installed-lock.json; then
  npm ci --prefix tests/s3 --no-audit --no-fund --loglevel=error
  cp tests/s3/package-lock.json tests/s3/.installed-lock.json
fi

# The OpenAPI document's validator (tests/openapi), as its package-lock.json pins it.
if [ ! -f tests/openapi/node_modules/.package-lock.json ] ||
   ! cmp -s tests/openapi/package-lock.json tests/openapi/.installed-lock.json; then
  npm ci --prefix tests/openapi --no-audit --no-fund --loglevel=error
  cp tests/openapi/package-lock.json tests/openapi/.installed-lock.json
fi

# The browser tests' driver (tests/browser): playwright-core, exactly as its
# package-lock.json pins it, run against Debian's chromium (no browser download).
if [ ! -f tests/browser/node_modules/.package-lock.json ] ||
   ! cmp -s tests/browser/package-lock.json tests/browser/.installed-lock.json; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
  cp tests/browser/package-lock.json tests/browser/.installed-lock.json
fi

[ -f build/build.ninja ] || meson setup build --buildtype=release
ninja -C build
if [ "${1:-}" = "--asan" ]; then
  [ -f build-asan/build.ninja ] || meson setup build-asan --buildtype=debug -Doptimization=1 \
    -Db_sanitize=address,undefined -Db_lundef=false
  ninja -C build-asan
fi
