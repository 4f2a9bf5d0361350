#!/usr/bin/env bash
# Creates .venv with the project and its test tools, and installs buf (proto lint) under .tools/.
# Idempotent: a second run only checks that everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  touch "$stamp"
fi
if [ ! -x .tools/node_modules/.bin/buf ] && command -v npm >/dev/null; then
  npm install --silent --prefix .tools @bufbuild/buf@1.75.0 >/dev/null
fi
# Schemas of the KEDA and Prometheus Operator kinds (and TypeScript, for their unknown-field check).
if [ ! -d .tools/node_modules/@kubernetes-models/prometheus-operator ] && command -v npm >/dev/null; then
  npm install --silent --prefix .tools @kubernetes-models/keda@2.0.0 \
    @kubernetes-models/prometheus-operator@6.0.0 typescript@5.9.3 >/dev/null
fi
# Prometheus and promtool, for the alert rule checks and the Prometheus end-to-end test.
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
  else
    echo "setup.sh: install Debian's prometheus package (prometheus, promtool) for the monitoring tests" >&2
  fi
fi
