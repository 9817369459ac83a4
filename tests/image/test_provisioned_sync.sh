#!/usr/bin/env bash
# A provisioned device reaches its upstream with the key handling of the device
# image, on the host: tools/provision makes the tree (device.key root:root 0600),
# the reference upstream serves on loopback, and checkpointd runs as another
# user (nobody, standing in for `checkpoint`) that cannot read device.key.
# Without a credential it cannot use the key and the upstream never sees it;
# with the key in $CREDENTIALS_DIRECTORY (0400, owned by that user, as systemd's
# LoadCredential= of checkpointd.service makes it) its heartbeat arrives.
# Needs root (to run the daemon as another user). Usage:
#   test_provisioned_sync.sh SOURCE_DIR BIN_DIR   (CTest passes both)
set -uo pipefail

src=${1:?source dir}
bin=${2:?bin dir}
if [[ $(id -u) -ne 0 ]] || ! command -v setpriv >/dev/null; then
  echo "skipped: needs root and setpriv (the daemon runs as another user)"; exit 77
fi
for b in checkpointd upstream; do [[ -x $bin/$b ]] || { echo "$bin/$b not built"; exit 1; }; done

t=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$t"
}
trap cleanup EXIT
chmod 0711 "$t"
"$src/tools/test-pki" "$t/pki" gate-01 >/dev/null 2>&1 || { echo "test-pki failed"; exit 1; }
pki=$t/pki

failures=0
ok() { echo "ok   $1"; }
no() { echo "FAIL $1"; failures=$((failures + 1)); }

# ---- the reference upstream on loopback, the device enrolled ----------------------------
db=(--db "$t/upstream.db")
"$bin/upstream" enroll "${db[@]}" --cert "$pki/device-gate-01.crt" >/dev/null || { echo "enroll failed"; exit 1; }
"$bin/upstream" serve "${db[@]}" --cert "$pki/server.crt" --key "$pki/server.key" --client-ca "$pki/fleet-ca.crt" \
  --host 127.0.0.1 --port 0 --duration-s 300 >"$t/serve.log" 2>&1 &
pids+=($!)
port=
for _ in $(seq 100); do
  port=$(sed -n 's#^listening https://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$t/serve.log" | head -n 1)
  [[ -n $port ]] && break
  sleep 0.1
done
[[ -n $port ]] || { echo "upstream did not start: $(head -c 300 "$t/serve.log")"; exit 1; }

# ---- the provisioned tree, unpacked as root as on the device -------------------------
CHECKPOINTD=$bin/checkpointd "$src/tools/provision" --id gate-01 --site "Test site" --lane gate --board host-sim \
  --upstream "https://127.0.0.1:$port" --fleet-ca "$pki/fleet-ca.crt" --device-key "$pki/device-gate-01.key" \
  --device-cert "$pki/device-gate-01.crt" --trust "$pki/issuer.crt" --list-signer "$pki/list-signer.crt" \
  --tar "$t/gate-01.tar" >/dev/null 2>&1 || { echo "provision failed"; exit 1; }
mkdir "$t/data" && chmod 0755 "$t/data"
tar -C "$t/data" --same-owner -xf "$t/gate-01.tar"
e=$t/data/etc/checkpoint
# The device's paths, moved into the temporary folder; the state belongs to the daemon's user.
mkdir -p "$t/state/screen"
chown -R 65534:65534 "$t/state"
# (tools/provision writes every path the daemon writes: screen_dir under /run,
# the rest under /var/lib/checkpoint.)
sed -e "s#/etc/checkpoint/#$e/#g" -e "s#/var/lib/checkpoint#$t/state#g" \
  -e "s#/run/checkpoint/screen#$t/state/screen#g" \
  -e "s#/usr/share/checkpoint/board#$src/board#" \
  -e "/^\[upstream\]$/a heartbeat_interval_s = 5\nbackoff_cap_s = 2" \
  "$e/checkpointd.conf" > "$t/device.conf"
chmod 0644 "$t/device.conf"
# The sim camera needs a lane script; nobody walks up (only sync matters here).
printf '{"version":1,"lead_frames":10,"people":[]}\n' > "$t/lane.json"
chmod 0644 "$t/lane.json"

as_daemon() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
run_daemon() {  # run_daemon LOG [env...]: checkpointd as the daemon's user, in the background
  local log=$1; shift
  env "$@" setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$bin/checkpointd" --config "$t/device.conf" --board "$src/board/host-sim/board.conf" --lane "$t/lane.json" \
    >/dev/null 2>"$log" &
  daemon_pid=$!
  pids+=("$daemon_pid")
}
stop_daemon() { kill "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null; }
seen() { "$bin/upstream" devices "${db[@]}" 2>/dev/null | grep -Eq '^gate-01 +enrolled +[0-9]{4}-'; }

if as_daemon cat "$e/device.key" >/dev/null 2>&1; then no "the daemon's user cannot read device.key"
else ok "the daemon's user cannot read device.key"; fi
if as_daemon cat "$t/device.conf" "$e/device.crt" "$e/fleet-ca.crt" >/dev/null; then
  ok "the daemon's user reads the configuration and certificates"
else no "the daemon's user reads the configuration and certificates"; fi

# ---- without the credential: the key is out of reach, the upstream never sees it -------------
run_daemon "$t/no-cred.log"
for _ in $(seq 40); do seen && break; sleep 0.25; done
sleep 5  # a few sync rounds (heartbeat every 5 s, retries 2 s apart)
if seen; then no "without the credential the upstream does not see the device"
else ok "without the credential the upstream does not see the device"; fi
# ... while the daemon runs on, its sync thread configured (so the test can tell).
if kill -0 "$daemon_pid" 2>/dev/null && grep -q 'upstream configured' "$t/no-cred.log"; then
  ok "without the credential checkpointd runs on (the lane works offline)"
else no "without the credential checkpointd runs on (log: $(tail -c 600 "$t/no-cred.log"))"; fi
stop_daemon

# ---- with the key as systemd's credential: the heartbeat arrives ---------------------------
mkdir -p "$t/creds"
install -m 0400 -o 65534 -g 65534 "$e/device.key" "$t/creds/device.key"
chown 65534:65534 "$t/creds"; chmod 0500 "$t/creds"
run_daemon "$t/cred.log" CREDENTIALS_DIRECTORY="$t/creds"
for _ in $(seq 120); do seen && break; sleep 0.5; done
if seen; then ok "with the key as the credential device.key the upstream sees the device (heartbeat)"
else no "with the key as the credential device.key the upstream sees the device (log: $(tail -c 600 "$t/cred.log"))"; fi
if grep -q 'device key from the service credential' "$t/cred.log"; then ok "checkpointd says it uses the credential"
else no "checkpointd says it uses the credential"; fi
stop_daemon

echo "$failures failure(s)"
((failures == 0))
