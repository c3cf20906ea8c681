# Sourced by ./dev: makes .venv with splice and its dev tools, installing system
# packages first when this is a fresh Debian/Ubuntu machine.
_apt_updated=""
apt_install() {
  # apt_install PKG... : install Debian packages that are missing (needs root).
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "splice: missing system packages: ${missing[*]}; run: sudo apt-get install -y ${missing[*]}" >&2
    return 1
  fi
  if [ -z "$_apt_updated" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    _apt_updated=1
  fi
  echo "splice: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "splice: needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)" >&2
  exit 2
fi
if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
  command -v dpkg-query >/dev/null && apt_install "python3-venv"
fi

stamp=".venv/.splice-installed"
want="$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  if [ ! -x .venv/bin/python ]; then
    echo "splice: creating .venv (once; about a minute with the next step)" >&2
    "$PYTHON" -m venv .venv
  fi
  echo "splice: updating pip in .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  echo "splice: installing splice and its dev tools into .venv (pyproject.toml changed or first run)" >&2
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "splice: .venv is ready" >&2
  echo "$want" > "$stamp"
fi
