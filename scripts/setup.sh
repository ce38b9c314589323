#!/usr/bin/env bash
# One idempotent set-up for a fresh Debian machine with only Python and Node:
# Debian packages (when root), the virtualenv with pinned Python packages, and pinned npm packages.
# Safe to re-run: every step is skipped when its inputs have not changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: the RISC-V cross compiler and QEMU (guests), chromium (dashboard tests).
APT_PACKAGES=(gcc-riscv64-unknown-elf qemu-user make chromium)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "setup: installing Debian packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi

# Python: a virtualenv with the pinned packages, re-installed only when pyproject.toml changes.
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.zkray-setup-stamp
want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: installing Python packages"
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e '.[dev]'
    echo "$want" > "$stamp"
fi

# npm: pinned by package-lock.json, re-installed only when the lock file changes.
if [ -f package-lock.json ]; then
    nstamp=node_modules/.zkray-setup-stamp
    nwant=$(sha256sum package-lock.json | cut -d' ' -f1)
    if [ "$(cat "$nstamp" 2>/dev/null)" != "$nwant" ]; then
        echo "setup: installing npm packages"
        npm ci --no-audit --no-fund --loglevel=error
        echo "$nwant" > "$nstamp"
    fi
fi
