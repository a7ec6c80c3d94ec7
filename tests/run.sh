#!/bin/sh
# Install everything the tests need, then run the whole suite.
#   sh tests/run.sh            (from the repository root; extra arguments go to pytest)
# Debian packages: Chromium (browser tests), Noto CJK fonts (Chinese in charts), the
# PostgreSQL server (the store's tests start their own throwaway cluster on 127.0.0.1,
# tests/pg.py) and LibreOffice Calc without GUI (form tests), installed with apt-get
# when missing and when we are root (or have sudo).
set -eu
cd "$(dirname "$0")/.."

need=""
command -v chromium >/dev/null 2>&1 || need="$need chromium"
command -v fc-list >/dev/null 2>&1 && fc-list :lang=zh-tw family | grep -q . || need="$need fonts-noto-cjk"
command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need="$need postgresql"
# LibreOffice headless (agency forms open, convert and save in the office suite agencies use)
command -v soffice >/dev/null 2>&1 || need="$need libreoffice-calc-nogui"
if [ -n "$need" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    echo "installing Debian packages:$need"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need fontconfig >/dev/null
  else
    echo "warning: cannot install$need (no apt-get); browser and font tests will be skipped," >&2
    echo "and PostgreSQL store tests fail unless GUIDEKIT_TEST_POSTGRES=0" >&2
  fi
fi

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
exec python3 -m pytest -n 2 "$@"
