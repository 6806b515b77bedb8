#!/usr/bin/env bash
# Create the virtual environment with a Python >= 3.12.4 and install the pinned
# dependencies (requirements.lock holds every package, transitive ones included).
set -euo pipefail
venv="${1:-.venv}"
pick_python() {
  for cand in "${PYTHON:-}" python3.13 python3.12 python3 python; do
    [ -n "$cand" ] || continue
    command -v "$cand" >/dev/null 2>&1 || continue
    if "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12, 4) else 1)' 2>/dev/null; then
      echo "$cand"; return 0
    fi
  done
  return 1
}
if [ ! -x "$venv/bin/python" ]; then
  py=$(pick_python) || { echo "ERROR: Python 3.12.4 or newer is needed (Django 6; older 3.12 releases garble e-mail subjects); set PYTHON=/path/to/python3.13" >&2; exit 1; }
  echo "Creating $venv with $($py --version)"
  "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip 2>/dev/null || true
echo "Installing pinned dependencies into $venv ..."
"$venv/bin/python" -m pip install --quiet -r requirements.lock 2>&1 | grep -v "^WARNING: Location" || true
"$venv/bin/python" -c "import django, celery, weasyprint" 2>/dev/null || { echo "ERROR: dependencies failed to install" >&2; exit 1; }
