#!/bin/bash
# Server instructions per call, counted by callgrind (independent of what else the machine
# runs, unlike wall time). The server is a registry-bench binary run as its server child
# (`__serve-registryd`: `registryd serve` with the defaults) under
# `valgrind --tool=callgrind`; the load is the bench's own scenarios with a fixed number of
# requests and no warm-up, at two sizes: per call = (instructions at N2 - at N1) / calls.
#
#   scripts/callgrind-per-call.sh SERVER_BENCH DRIVER_BENCH OUT_DIR [N1 N2]
#
# e.g. `bench/scripts/callgrind-per-call.sh target/release/registry-bench
# target/release/registry-bench /tmp/cg`. Prints instructions per Health/Check, per cached
# GetPolicyGoal (h2-health / h2-get: N closed-loop + N open-loop calls each; h2-get runs
# h2-health too) and per BatchGetPolicyGoals of 100 cached goals (N/5 calls, plus as many
# one at a time). Needs valgrind and PostgreSQL (DATABASE_URL, as the bench).
set -euo pipefail
SERVER=$(realpath "$1"); DRIVER=$2; OUT=$3; N1=${4:-500}; N2=${5:-1500}
mkdir -p "$OUT"
WRAP="$OUT/server.sh"
cat > "$WRAP" <<'SH'
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file="$CG_OUT" "$REGISTRYD_BIN" __serve-registryd
SH
chmod +x "$WRAP"
export REGISTRYD_BIN=$SERVER
run() { # scenario requests -> instructions
  export CG_OUT="$OUT/$1.$2.out"
  rm -f "$CG_OUT"
  "$DRIVER" --registryd "$WRAP" --scenarios "$1" --requests "$2" --warmup 0s \
    --dataset-size 100 --get-keys 100 --json "$OUT/$1.$2.json" > "$OUT/$1.$2.log" 2>&1
  grep -E '^(summary|totals):' "$CG_OUT" | head -1 | awk '{print $2}'
}
h1=$(run h2-health "$N1"); h2=$(run h2-health "$N2")
g1=$(run h2-get "$N1"); g2=$(run h2-get "$N2")
b1=$(run batch-get $((N1 / 5))); b2=$(run batch-get $((N2 / 5)))
calls=$((2 * (N2 - N1)))
echo "health check:    $(( (h2 - h1) / calls )) instructions per call"
echo "cached get:      $(( ((g2 - g1) - (h2 - h1)) / calls )) instructions per call"
echo "batch-get (100): $(( (b2 - b1) / (3 * (N2 - N1) / 5) )) instructions per call"
