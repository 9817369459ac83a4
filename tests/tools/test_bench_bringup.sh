#!/usr/bin/env bash
# docs/provisioning.md, "Bench bring-up", followed word for word: the shell block
# of that section is taken from the page and run as it stands (in a temporary
# folder that links the source tree's tools/, board/, drivers/ and the built
# build/bin/, with a free port): provision -> checkpointd --root on host-sim ->
# scans arrive upstream -> diag says ok. Nothing is written outside the folder.
# Usage: test_bench_bringup.sh SOURCE_DIR BIN_DIR (CTest passes both).
set -uo pipefail

src=${1:?source dir}
bin=${2:?bin dir}
for b in checkpointd checkpoint upstream; do
  [[ -x "$bin/$b" ]] || { echo "$b not built in $bin"; exit 1; }
done

t=$(mktemp -d)
pgid=
cleanup() {
  # The block's background jobs are in its own process group.
  [[ -n "$pgid" ]] && kill -TERM -- "-$pgid" 2>/dev/null
  sleep 0.5
  [[ -n "$pgid" ]] && kill -KILL -- "-$pgid" 2>/dev/null
  rm -rf "$t"
}
trap cleanup EXIT

# The block: the first ```sh fence after the heading, up to its closing fence.
awk '/^## Bench bring-up/ { sec = 1; next }
     sec && /^## / { exit }
     sec && /^```sh$/ { inblock = 1; next }
     inblock && /^```$/ { exit }
     inblock { print }' "$src/docs/provisioning.md" >"$t/block.sh"
[[ -s "$t/block.sh" ]] || { echo "FAIL no shell block under '## Bench bring-up' in docs/provisioning.md"; exit 1; }

ln -s "$src/tools" "$src/board" "$src/drivers" "$t/"
mkdir -p "$t/build"
ln -s "$bin" "$t/build/bin"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# A fresh session (process group) so every job the block starts can be stopped.
(cd "$t" && PORT=$port CHECKPOINTD="$bin/checkpointd" exec setsid timeout 400 bash "$t/block.sh") \
  >"$t/out" 2>"$t/err" &
runner=$!
sleep 0.2
pgid=$(ps -o pgid= -p "$runner" 2>/dev/null | tr -d ' ')
wait "$runner"
rc=$?

failures=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@" >/dev/null; then echo "ok   $what"; else echo "FAIL $what"; failures=$((failures + 1)); fi
}
check "the block ran to its end (rc $rc)" test "$rc" -eq 0
check "the scans arrived upstream" grep -q '"device_id":"gate-07"' "$t/out"
check "diag: every check ok" grep -q '^result: ok (0 warn, 0 fail)' "$t/out"
check "diag found the daemon" grep -q '^ok    checkpointd  pid ' "$t/out"
check "the journal is in the tree" test -s "$t/bench/gate-07/var/lib/checkpoint/journal.db"
check "the screen is in the tree" bash -c "ls '$t/bench/gate-07/run/checkpoint/screen/' | grep -q png"
check "the pulled status list is in the tree" test -s "$t/bench/gate-07/var/lib/checkpoint/status.db"
check "the daemon reached the command centre" grep -q 'upstream configured' "$t/bench/checkpointd.log"
check "the network health is ok" grep -q 'network health.*to=ok' "$t/bench/checkpointd.log"
check "the network health never went down" bash -c "! grep -q 'network health.*to=down' '$t/bench/checkpointd.log'"
if ((failures)); then
  echo "---- output"; cat "$t/out"; echo "---- stderr"; tail -50 "$t/err"
  echo "---- checkpointd.log"; tail -40 "$t/bench/checkpointd.log" 2>/dev/null
  echo "---- upstream.log"; tail -20 "$t/bench/upstream.log" 2>/dev/null
  echo "$failures failed"; exit 1
fi
echo "all ok"
