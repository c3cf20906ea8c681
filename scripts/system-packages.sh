# Sourced by scripts/test.sh and scripts/demo.sh after bootstrap.sh (which defines
# apt_install): the servers splice's local provider starts, and the tools the tests use.
# Each is installed only when its binary is missing, so a machine that has them (or a
# non-Debian machine with them on PATH) installs nothing.
need() {  # need BINARY PACKAGE: install PACKAGE when BINARY is not found
  local binary="$1" package="$2"
  if command -v "$binary" >/dev/null 2>&1 || compgen -G "$binary" >/dev/null 2>&1; then
    return 0
  fi
  _wanted+=("$package")
}

_wanted=()
for arg in "$@"; do
  case "$arg" in
    servers)
      need '/usr/lib/postgresql/*/bin/postgres' postgresql
      need mariadbd mariadb-server
      need redis-server redis-server
      need rabbitmq-server rabbitmq-server
      need nats-server nats-server
      need mosquitto mosquitto
      ;;
    test-tools)
      need faketime faketime
      need chromium chromium
      ;;
    bench-tools)
      need wrk wrk  # the mock benchmark's load generator (a Python loop is the fallback)
      ;;
  esac
done
if [ ${#_wanted[@]} -gt 0 ]; then
  if command -v dpkg-query >/dev/null 2>&1; then
    apt_install "${_wanted[@]}"
  else
    echo "splice: missing ${_wanted[*]}; install them with your package manager" >&2
  fi
fi
unset _wanted
