#!/usr/bin/env bash
# Run by .ci/run (and `make chromium`), never by `make test`.
# Install what the docs browser test needs when it is missing and we can (root with apt-get): Debian's chromium,
# and MathJax with its fonts (libjs-mathjax, fonts-mathjax), which tools/docs_mkdocs.py copies into the site so
# formulas render offline. Never fails the build by itself: the browser test skips with a message (or fails
# under CI=true) when chromium is missing; without MathJax the site loads it from a CDN.
have_chromium() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }
have_mathjax() { [ -f /usr/share/javascript/mathjax/MathJax.js ] && [ -d /usr/share/javascript/mathjax/fonts/HTML-CSS/TeX/woff ]; }
if have_chromium && have_mathjax; then exit 0; fi
pkgs=""
have_chromium || pkgs="$pkgs chromium"
have_mathjax || pkgs="$pkgs libjs-mathjax fonts-mathjax"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian packages for the docs and their browser test:$pkgs"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs >/dev/null) \
    || echo "WARNING: could not install$pkgs; the browser test will skip (and fail under CI)"
else
  echo "WARNING: missing$pkgs and cannot install them here (need root and apt-get); the browser test will skip"
fi
exit 0
