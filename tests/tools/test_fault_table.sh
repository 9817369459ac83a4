#!/usr/bin/env bash
# The faults a technician meets at install, each made for real on a provisioned
# tree run with --root on the host-sim board: the line `checkpoint diag` prints
# for it (which must name the cause and the fix) and, for the faults the idle
# screen shows, the guard screen checkpointd draws. With CHECKPOINT_DOCS_OUT=DIR
# the lines (faults.md, the table of docs/diagnostics.md) and the screens
# (fault-*.png, docs/images/) are written there.
# Usage: test_fault_table.sh SOURCE_DIR BIN_DIR (CTest passes both).
set -uo pipefail

src=${1:?source dir}
bin=${2:?bin dir}
out=${CHECKPOINT_DOCS_OUT:-}
board="$src/board/host-sim/board.conf"

t=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$t"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

"$src/tools/test-pki" "$t/pki" gate-07 gate-08 2>/dev/null || { echo "test-pki failed"; exit 1; }
pki=$t/pki
port=$(free_port)
CHECKPOINTD="$bin/checkpointd" "$src/tools/provision" --id gate-07 --site bench --lane gate --board host-sim \
  --upstream "https://127.0.0.1:$port" --fleet-ca "$pki/fleet-ca.crt" --ca-key "$pki/fleet-ca.key" \
  --trust "$pki/issuer.crt" --list-signer "$pki/list-signer.crt" --out "$t/base" 2>"$t/provision.log" ||
  { cat "$t/provision.log"; exit 1; }
conf=etc/checkpoint/checkpointd.conf
data=var/lib/checkpoint

# A list 10 minutes old in the tree, as sync would have installed it.
install_list() {  # install_list TREE CREATED
  printf 'pass_id,status,reason\n0123456789abcdef0123456789abcdef,green,\n' >"$t/list.csv"
  mkdir -p "$1/$data"
  "$bin/checkpoint" list build --csv "$t/list.csv" --key "$pki/list-signer.key" --cert "$pki/list-signer.crt" \
    --version 1 --created "$2" --out "$t/list.bin" >/dev/null 2>&1 &&
  "$bin/checkpoint" list import "$t/list.bin" --db "$1/$data/status.db" --trust "$pki/list-signer.crt" >/dev/null 2>&1
}
now=$(date +%s)
install_list "$t/base" $((now - 600)) || { echo "list build/import failed"; exit 1; }

# The command centre: gate-07 enrolled, gate-08 enrolled then revoked.
db=$t/cc.db
"$bin/upstream" enroll --db "$db" --cert "$t/base/etc/checkpoint/device.crt" >/dev/null 2>&1
# Version 1 there too: the device has it already and pulls nothing (its own copy stays as the fault makes it).
"$bin/upstream" publish --db "$db" --signing-key "$pki/list-signer.key" --signing-cert "$pki/list-signer.crt" \
  --force >/dev/null 2>&1
"$bin/upstream" trust-add --db "$db" --cert "$pki/issuer.crt" >/dev/null 2>&1
"$bin/upstream" trust-publish --db "$db" --signing-key "$pki/list-signer.key" \
  --signing-cert "$pki/list-signer.crt" >/dev/null 2>&1
serve() {  # serve CERT KEY CLIENT_CA
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  "$bin/upstream" serve --db "$db" --cert "$1" --key "$2" --client-ca "$3" --port "$port" \
    --duration-s 600 >"$t/serve.out" 2>>"$t/serve.log" &
  server_pid=$!
  for _ in $(seq 100); do grep -q listening "$t/serve.out" 2>/dev/null && return 0; sleep 0.1; done
  echo "upstream serve did not start"; cat "$t/serve.log"; exit 1
}
serve "$pki/server.crt" "$pki/server.key" "$pki/fleet-ca.crt"

# Nobody at the lane: the idle screen.
echo '{"version": 1, "lead_frames": 100000, "people": []}' >"$t/idle-lane.json"

failures=0
rows=()
# fault NAME CHECK "PHRASE" "HOW" [screen]: the tree in $t/f/NAME was set up by the caller.
fault() {
  local name=$1 check=$2 phrase=$3 how=$4 shot=${5:-}
  local tree=$t/f/$name
  "$bin/checkpoint" diag --root "$tree" --board "$board" --timeout 3 --json >"$t/$name.json" 2>"$t/$name.err"
  local line
  line=$(python3 - "$t/$name.json" "$check" "$tree" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = next(c for c in d["checks"] if c["name"] == sys.argv[2])
v = c["value"].replace(sys.argv[3], "")  # paths as they are on the device
print(f'{c["status"]:<5} {c["name"]:<12} {v}')
PY
)
  if [[ "$line" == *"$phrase"* && "$line" != ok* ]]; then
    echo "ok   $name: $line"
  else
    echo "FAIL $name: wanted \"$phrase\" in: $line"; cat "$t/$name.err"
    failures=$((failures + 1))
  fi
  local screen="—"
  if [[ -n "$shot" ]]; then
    # The idle screen checkpointd draws for it (a few seconds of running).
    "$bin/checkpointd" --root "$tree" --board "$board" --lane "$t/idle-lane.json" \
      >"$t/$name.out" 2>"$t/$name.log" </dev/null &
    local pid=$!
    local dir=$tree/run/checkpoint/screen
    # Up to 30 s for the daemon to be running with the fault in place (its log line).
    for _ in $(seq 150); do
      [[ $(ls "$dir" 2>/dev/null | wc -l) -ge 1 ]] && grep -aq "$shot" "$t/$name.log" && break
      sleep 0.2
    done
    sleep 1.5  # the bar is redrawn once a second
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    local png
    png=$(ls "$dir"/*.png 2>/dev/null | sort | tail -1)
    if [[ -n "$png" ]]; then
      [[ -n "$out" ]] && cp "$png" "$out/fault-$name.png"
      screen="![$name](images/fault-$name.png)"
    else
      echo "FAIL $name: no screen drawn"; tail -5 "$t/$name.log"; failures=$((failures + 1))
    fi
  fi
  rows+=("| $how | \`$line\` | $screen |")
}
tree() { rm -rf "$t/f/$1"; mkdir -p "$t/f"; cp -a "$t/base" "$t/f/$1"; echo "$t/f/$1"; }
free_bytes() { df -B1 --output=avail "$1" 2>/dev/null | tail -1 | tr -d ' '; }
setconf() { printf '\n%s\n' "$2" >>"$1/$conf"; }

d=$(tree stale-list); rm -f "$d/$data"/status.db*; install_list "$d" $((now - 3 * 86400))
fault stale-list list "over the limit" "status list 3 days old (limit \`policy.max_list_age_s\` 24 h)" "running"

# Without upstream.url: sync would pull the command centre's list at once.
d=$(tree no-list); rm -f "$d/$data"/status.db*; sed -i '/^url = /d' "$d/$conf"
fault no-list list "every pass is YELLOW" "no status list installed, no upstream to pull one from" "running"

d=$(tree list-future); rm -f "$d/$data"/status.db*; install_list "$d" $((now + 2 * 3600))
fault list-future list "set the clock" "device clock 2 h behind (list from the future)"

# The largest floor the configuration takes is 64 GiB: a file system with less free.
floor=68719476736
shm=
if [[ $(free_bytes "$t") -ge $floor ]]; then
  if [[ -d /dev/shm && $(free_bytes /dev/shm) -lt $floor ]] && shm=$(mktemp -d /dev/shm/cp-fault-XXXXXX); then :; else
    echo "skip: no file system here with less than 64 GiB free"; exit 77
  fi
fi
d=$(tree disk-low)
if [[ -n "$shm" ]]; then mv "$d" "$shm/disk-low" && ln -s "$shm/disk-low" "$d"; trap 'cleanup; rm -rf "$shm"' EXIT; fi
setconf "$d" $'[journal]\nmax_bytes = 34359738368\ndisk_floor_bytes = 68719476736'
fault disk-low disk "Free space" "free disk below \`journal.disk_floor_bytes\`" "running"
fault disk-low journal "cannot record" "the same: the journal refuses rows"

d=$(tree thermometer-no-bus); setconf "$d" $'[thermometer]\nbackend = mlx90614\nbus = /dev/i2c-99'
fault thermometer-no-bus thermometer "i2c" "thermometer configured, no I²C bus" "running"
# Its heartbeat (sent while the screen was taken) says so too: a fault, not "none".
sensors=$(python3 -c 'import sqlite3,sys; r=sqlite3.connect(sys.argv[1]).execute("SELECT sensors FROM heartbeats WHERE device_id = ?", ("gate-07",)).fetchone(); print(r[0] if r else "")' "$db" 2>/dev/null)
if [[ "$sensors" == *'"thermometer":"fault"'* ]]; then echo "ok   thermometer-no-bus: heartbeat sensors $sensors"
else echo "FAIL thermometer-no-bus: heartbeat sensors '$sensors'"; failures=$((failures + 1)); fi

d=$(tree unreachable); sed -i "s|^url = .*|url = https://127.0.0.1:$(free_port)|" "$d/$conf"
fault unreachable upstream "check the host and port" "nothing listens at the upstream URL" "to=down"

d=$(tree url-404); sed -i "s|^url = \(.*\)|url = \1/wrong|" "$d/$conf"
fault url-404 upstream "check the path part of upstream.url" "wrong path in \`upstream.url\`"

d=$(tree not-enrolled); cp "$pki/device-gate-08.crt" "$d/etc/checkpoint/device.crt"
cp "$pki/device-gate-08.key" "$d/etc/checkpoint/device.key"; sed -i 's/^id = gate-07/id = gate-08/' "$d/$conf"
fault not-enrolled upstream "enroll it there" "device not enrolled at the command centre"

"$bin/upstream" enroll --db "$db" --cert "$pki/device-gate-08.crt" >/dev/null 2>&1
"$bin/upstream" revoke --db "$db" --device gate-08 >/dev/null 2>&1
d=$(tree revoked); cp "$pki/device-gate-08.crt" "$d/etc/checkpoint/device.crt"
cp "$pki/device-gate-08.key" "$d/etc/checkpoint/device.key"; sed -i 's/^id = gate-07/id = gate-08/' "$d/$conf"
fault revoked upstream "contact the command centre" "device revoked at the command centre"

d=$(tree wrong-ca-file); cp "$pki/wrong-ca.crt" "$d/etc/checkpoint/fleet-ca.crt"
fault wrong-ca-file upstream "this device refused the server's certificate" "\`upstream.ca_file\` is not the fleet CA"
fault wrong-ca-file identity "not signed by the fleet CA" "the same: the identity check"

logged() {  # logged DESCRIPTION PATTERN: in the command centre's log (its thread may write it a moment later)
  for _ in $(seq 50); do grep -q "$2" "$t/serve.log" && break; sleep 0.1; done
  if grep -q "$2" "$t/serve.log"; then echo "ok   $1"; else echo "FAIL $1"; failures=$((failures + 1)); fi
}

serve "$pki/server.crt" "$pki/server.key" "$pki/wrong-ca.crt"
d=$(tree server-refuses-device)
fault server-refuses-device upstream "the server refused this device's certificate" "the server trusts another client CA (\`--client-ca\`)"
logged "the command centre logs the refused device certificate, with the address and reason" \
  "TLS handshake refused: the device's certificate was not accepted.*peer=127.0.0.1:.*alert="

serve "$pki/server-expired.crt" "$pki/server-expired.key" "$pki/fleet-ca.crt"
d=$(tree server-expired)
fault server-expired upstream "expired" "the server's certificate expired"
check_warned() { grep -q "server certificate expired" "$t/serve.log"; }
if check_warned; then echo "ok   upstream serve warned about its expired certificate"; else
  echo "FAIL upstream serve did not warn about its expired certificate"; failures=$((failures + 1)); fi

# A daemon started through a wrapper (`timeout`, as a test or a script would):
# diag's checkpointd check names the daemon's pid, not the wrapper's.
serve "$pki/server.crt" "$pki/server.key" "$pki/fleet-ca.crt"
d=$(tree wrapped)
timeout 120 "$bin/checkpointd" --root "$d" --board "$board" --lane "$t/idle-lane.json" \
  >/dev/null 2>"$t/wrapped.log" </dev/null &
wrapper=$!
for _ in $(seq 150); do grep -aqs "running" "$t/wrapped.log" && break; sleep 0.2; done
daemon_pid=$(pgrep -P "$wrapper" | head -1)
"$bin/checkpoint" diag --root "$d" --board "$board" --timeout 3 --json >"$t/wrapped.json" 2>/dev/null
found=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(next(c for c in d["checks"] if c["name"]=="checkpointd").get("data",{}).get("pid",""))' "$t/wrapped.json")
kill "$wrapper" 2>/dev/null; wait "$wrapper" 2>/dev/null
if [[ -n "$daemon_pid" && "$found" == "$daemon_pid" ]]; then echo "ok   diag names the daemon (pid $found), not its wrapper (pid $wrapper)"
else echo "FAIL diag named pid '$found'; the daemon is '$daemon_pid', its wrapper $wrapper"; failures=$((failures + 1)); fi

if [[ -n "$out" ]]; then
  {
    echo "| fault (made by the test) | \`checkpoint diag\` line | idle screen |"
    echo "|---|---|---|"
    printf '%s\n' "${rows[@]}"
  } >"$out/faults.md"
fi
if ((failures)); then echo "$failures failed"; exit 1; fi
echo "all ok"
