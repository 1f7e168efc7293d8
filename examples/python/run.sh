#!/usr/bin/env bash
# Runs the Python example against a real registryd: generates the stubs from proto/ with
# grpcio-tools (PyPI) into target/python-example/gen (not committed), starts `registryd serve`
# on a free port with a fresh database and a bootstrap admin token, imports seeds/ with
# registryctl, runs registry_example.py, and stops the server and drops the database.
#
# The virtualenv is cached in target/python-example/venv. If Python or pip cannot install
# grpcio-tools (no network, no PyPI), this prints a note and exits 0: the example is skipped,
# not failed. Anything that goes wrong after that fails the run.
#
# Environment: PYTHON (default python3), REGISTRY_EXAMPLE_PG (PostgreSQL server URL without a
# database, default postgres://postgres@127.0.0.1:5432), REGISTRYD and REGISTRYCTL (built
# binaries; default: cargo build -p registryd -p registry-cli).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
work="$root/target/python-example"
mkdir -p "$work"
python="${PYTHON:-python3}"
skip() { echo "note: skipping the Python example: $*"; exit 0; }

command -v "$python" >/dev/null 2>&1 || skip "$python is not installed"
venv="$work/venv"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" >/dev/null 2>&1 || { rm -rf "$venv"; skip "cannot create a virtualenv with $python"; }
fi
# grpcio-tools brings grpcio and protobuf; pinned to a major line so the cache stays valid.
if ! "$venv/bin/python" -c 'import grpc_tools, grpc' >/dev/null 2>&1; then
  echo "installing grpcio-tools into $venv"
  if ! timeout 300 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'grpcio-tools>=1.60,<2'; then
    skip "pip could not install grpcio-tools (is PyPI reachable?)"
  fi
fi

# Stubs, generated fresh each run (the protos may have changed).
gen="$work/gen"
rm -rf "$gen"
mkdir -p "$gen"
"$venv/bin/python" -m grpc_tools.protoc -I proto --python_out="$gen" --grpc_python_out="$gen" \
  $(cd proto && find motie google -name '*.proto' | sort)

# The server.
if [ -z "${REGISTRYD:-}" ]; then
  cargo build -q -p registryd -p registry-cli
  REGISTRYD="$root/target/debug/registryd"
fi
registryctl="${REGISTRYCTL:-$(dirname "$REGISTRYD")/registryctl}"
pg="${REGISTRY_EXAMPLE_PG:-postgres://postgres@127.0.0.1:5432}"
db="registry_pyexample_$(tr -dc 'a-z0-9' </dev/urandom | head -c 12 || true)"
token="rgy_$(tr -dc 'a-z0-9' </dev/urandom | head -c 12 || true)_$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 48 || true)"
log="$work/registryd.log"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if command -v psql >/dev/null 2>&1; then
    psql "$pg/postgres" -q -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
DATABASE_URL="$pg/$db" REGISTRY_BOOTSTRAP_ADMIN_TOKEN="$token" \
  "$REGISTRYD" serve --listen 127.0.0.1:0 >"$log" 2>&1 &
server_pid=$!
# registryd prints its address once it listens (port 0: the system picks a free port).
addr=""
for _ in $(seq 1 600); do
  addr="$(sed -n 's/^registryd listening on \([^ ]*\) .*/\1/p' "$log" | head -n 1)"
  [ -n "$addr" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; echo "registryd exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { cat "$log" >&2; echo "registryd did not start listening" >&2; exit 1; }

# The seed data, imported through the API, so there are goals to list and update.
REGISTRY_ENDPOINT="http://$addr" REGISTRY_TOKEN="$token" "$registryctl" import -q seeds >/dev/null

# The example.
PYTHONPATH="$gen" "$venv/bin/python" examples/python/registry_example.py --endpoint "$addr" --token "$token"
echo "Python example: OK"
