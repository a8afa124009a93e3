# Sourced by scripts: makes (once) and names the Python venv for Fauve's tools in .venv-tools/.
# Sets TOOLS_PY. Installs scripts/tools-requirements.txt when it changed.
TOOLS_VENV=${FAUVE_TOOLS_VENV:-.venv-tools}
if [ ! -x "$TOOLS_VENV/bin/python" ]; then
    echo "tools: creating Python venv $TOOLS_VENV"
    python3 -m venv "$TOOLS_VENV"
fi
TOOLS_PY="$TOOLS_VENV/bin/python"
if ! cmp -s scripts/tools-requirements.txt "$TOOLS_VENV/.installed" 2>/dev/null; then
    echo "tools: installing $(grep -vc '^#' scripts/tools-requirements.txt) packages into $TOOLS_VENV"
    "$TOOLS_PY" -m pip install --quiet --disable-pip-version-check -r scripts/tools-requirements.txt
    cp scripts/tools-requirements.txt "$TOOLS_VENV/.installed"
fi
