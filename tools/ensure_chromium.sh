#!/usr/bin/env bash
# Install Debian's chromium for the browser test when it is missing and we can (root with apt-get).
# Never fails the build by itself: the browser test skips with a message (or fails under CI=true).
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the docs browser test..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "WARNING: could not install chromium; the browser test will skip (and fail under CI)"
else
  echo "WARNING: chromium missing and not installable here (need root and apt-get); the browser test will skip"
fi
exit 0
