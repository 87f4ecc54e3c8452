#!/usr/bin/env bash
# Creates (or refreshes) the project virtualenv at .venv with the package
# installed in editable mode plus its test extras. Re-runs are cheap: pip is
# only called when pyproject.toml changed since the last install.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

python="${PYTHON:-python3}"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "Python >= 3.11 is required (found $("$python" --version 2>&1)); set PYTHON=/path/to/python3.11"
[[ -x "$VENV_DIR/bin/python" ]] || { log "creating $VENV_DIR"; "$python" -m venv "$VENV_DIR"; }
stamp="$VENV_DIR/.paddock-installed"
want="$(sha256sum "$REPO_ROOT/pyproject.toml" | cut -c1-16)"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  log "installing paddock[test] into $VENV_DIR"
  "$VENV_DIR/bin/python" -m pip install --quiet --upgrade pip
  "$VENV_DIR/bin/python" -m pip install --quiet -e "$REPO_ROOT[test]"
  echo "$want" > "$stamp"
fi
