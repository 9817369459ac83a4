# shellcheck shell=bash disable=SC2034
# Shared by tests/image/image-test and tests/image/update-test (sourced).
# Needs ROOT and OUT set by the caller.
FIRMWARE=/usr/share/qemu-efi-aarch64/QEMU_EFI.fd
say() { printf '\033[1m== %s: %s\033[0m\n' "${0##*/}" "$*" >&2; }
fail() { printf '%s: FAIL: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# Host tools, the aarch64 executables, and cp_bin (the aarch64 `checkpoint`
# under qemu-aarch64).
image_test_setup() {
  local p
  for p in qemu-system-arm qemu-efi-aarch64 qemu-utils; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$p" >&2 ||
      fail "cannot install $p"
  done
  "$ROOT/tools/dev.d/arm" build >&2 || fail "aarch64 build failed"
  eval "$("$ROOT/tools/dev.d/arm" demo-env)"
}
cp_bin() { $CHECKPOINT_EMULATOR "$CHECKPOINT_BIN_DIR/checkpoint" "$@"; }

# test_passes KEYS: TEST-ONLY keys into KEYS: the fleet PKI of tools/test-pki
# (KEYS/pki: fleet CA, device image-test-1, list signer), a pass issuer, three
# passes (green, red, fever: KEYS/NAME.txt) and their statuses (KEYS/status.csv:
# the red one isolated).
test_passes() {
  local K=$1 now who
  mkdir -p "$K"
  "$ROOT/tools/test-pki" "$K/pki" image-test-1 >/dev/null 2>&1 || fail "tools/test-pki failed"
  cp_bin pass keygen --out "$K/issuer" --cn "image-test pass issuer (TEST-ONLY)" >/dev/null
  now=$(date +%s)
  declare -A id
  for who in green red fever; do
    id[$who]=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    printf '{"iss":"CN-HL-DQ","iat":%d,"exp":%d,"pass":{"v":1,"id":"%s","k":"R","n":"T*st","g":"image.test.01"}}\n' \
      $((now - 86400)) $((now + 86400 * 365)) "${id[$who]}" > "$K/$who.json"
    cp_bin pass issue --key "$K/issuer/issuer.key" --cert "$K/issuer/issuer.crt" --claims "$K/$who.json" > "$K/$who.txt"
  done
  printf 'pass_id,status,reason\n%s,green,\n%s,red,isolation\n%s,green,\n' \
    "${id[green]}" "${id[red]}" "${id[fever]}" > "$K/status.csv"
}

# test_data_partition DIR KEYS UPSTREAM_URL: the data partition tree of device
# image-test-1 as tools/provision makes it (identity from KEYS/pki, upstream
# UPSTREAM_URL, pass issuer and list signer of test_passes), checked by the
# device's own checkpointd (aarch64, under qemu-aarch64), plus the test's
# parts: the status list (version 1) in status.db, a lane script for the sim
# camera (GREEN; RED by the list; RED by fever), slow frames, a short sync
# backoff. The guest's checkpoint-image-test.service reports the journal when
# it has 3 rows and every row is uploaded.
test_data_partition() {
  local P=$1 K=$2 url=$3
  CHECKPOINTD=$CHECKPOINT_BIN_DIR/checkpointd "$ROOT/tools/provision" --id image-test-1 --site qemu \
    --lane gate --board host-sim --upstream "$url" --fleet-ca "$K/pki/fleet-ca.crt" \
    --device-key "$K/pki/device-image-test-1.key" --device-cert "$K/pki/device-image-test-1.crt" \
    --trust "$K/issuer/issuer.crt" --list-signer "$K/pki/list-signer.crt" --out "$P" >&2 ||
    fail "tools/provision failed"
  mkdir -p "$P/var/lib/checkpoint" "$P/image-test"
  cp_bin list build --csv "$K/status.csv" --key "$K/pki/list-signer.key" --cert "$K/pki/list-signer.crt" \
    --version 1 --out "$K/status.list" --issuer CN-HL-DQ >/dev/null
  cp_bin list import "$K/status.list" --db "$P/var/lib/checkpoint/status.db" --trust "$K/pki/list-signer.crt" >/dev/null
  {
    printf '{"version":1,"lead_frames":20,"people":[\n'
    lane_person "$K" green 36.5; printf ',\n'; lane_person "$K" red 36.6; printf ',\n'
    lane_person "$K" fever 38.5; printf '\n]}\n'
  } > "$P/image-test/lane.json"
  echo 3 > "$P/image-test/expect-rows"
  echo "${IMAGE_TEST_LANE_TIMEOUT_S:-900}" > "$P/image-test/timeout-s"
  # The provisioned configuration, tuned for a whole machine under emulation:
  # slow frames, and sync rounds and retries seconds apart, not minutes.
  local conf=$P/etc/checkpoint/checkpointd.conf
  sed -i -e '/^\[upstream\]$/a heartbeat_interval_s = 15\nlist_interval_s = 15\nbackoff_cap_s = 20' "$conf"
  cat >> "$conf" <<CONF

# QEMU image test: the whole machine is emulated.
[camera]
fps = 4
width = 640
height = 360
[log]
level = info
CONF
  echo 'CHECKPOINTD_ARGS="--lane /data/image-test/lane.json --json"' > "$P/etc/checkpoint/checkpointd.env"
  # A slot whose checkpointd is not healthy gives up after 150 s, not 300 s.
  echo 'DEADLINE_S=150' > "$P/etc/checkpoint/boot-health.conf"
  # The device's own parser accepts the tuned configuration too.
  $CHECKPOINT_EMULATOR "$CHECKPOINT_BIN_DIR/checkpointd" --config "$conf" \
    --board "$ROOT/board/host-sim/board.conf" --check-config >/dev/null ||
    fail "checkpointd --check-config refused the test's configuration"
}
lane_person() {
  printf '{"qr":"%s","temperature_c":%s,"arrive_frames":4,"hold_frames":40,"leave_frames":3,"gap_frames":8}' \
    "$(cat "$1/$2.txt")" "$3"
}

# qemu_boot DISK LOG TIMEOUT_S [QEMU ARGS...]: boots DISK (qcow2) in the
# background, serial console to LOG; sets QEMU_PID. QEMU_NIC: the type of
# netdev (default none; the boot test uses QEMU's user networking, `user`, where the
# guest reaches the host's loopback at 10.0.2.2). The machine does not
# reboot (-no-reboot): a guest reboot ends QEMU, the caller starts it again.
qemu_boot() {
  local disk=$1 log=$2 t=$3; shift 3
  : > "$log"
  # A virtio NIC without a PXE option ROM (romfile=): UEFI boots from disk, and
  # Debian's qemu-system-arm without ipxe-qemu has no efi-virtio.rom.
  local net=(-nic none)
  [[ ${QEMU_NIC:-none} == none ]] || net=(-netdev "$QEMU_NIC,id=n0" -device virtio-net-pci,netdev=n0,romfile=)
  timeout "$t" qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 1024 -nographic -no-reboot \
    -bios "$FIRMWARE" -drive if=none,id=hd,file="$disk",format=qcow2 -device virtio-blk-pci,drive=hd \
    "${net[@]}" -serial "file:$log" -monitor none "$@" </dev/null >/dev/null 2>>"$log.qemu-err" &
  QEMU_PID=$!
  QEMU_T0=$(date +%s)
}

# qemu_power_cut: kills QEMU itself with SIGKILL, as a power cut would stop
# the board. QEMU_PID is the `timeout` wrapper, and a SIGKILL to it would leave
# QEMU running on as an orphan.
qemu_power_cut() {
  # -f: the process name is cut to 15 characters ("qemu-system-aar").
  pkill -KILL -P "$QEMU_PID" -f qemu-system-aarch64 || fail "power cut: no QEMU under $QEMU_PID"
}

# qemu_wait LOG: waits for QEMU_PID; sets QEMU_RC, QEMU_S (run time) and READY_S
# (seconds from the guest's boot to systemd's READY for checkpointd, as the
# guest's report prints it).
qemu_wait() {
  local log=$1
  while kill -0 "$QEMU_PID" 2>/dev/null; do sleep 2; done
  set +e; wait "$QEMU_PID"; QEMU_RC=$?; set -e
  QEMU_S=$(( $(date +%s) - QEMU_T0 ))
  READY_S=$(sed -n 's/.*IMAGE-TEST: checkpointd ready \([0-9]*\)s after boot.*/\1/p' "$log" | head -n 1)
  ((QEMU_RC != 124)) || fail "QEMU still running at its time limit (console: $log)"
}

CHECKS_OK=1
# check LOG DESCRIPTION ERE: one line "ok"/"FAIL"; a FAIL makes CHECKS_OK=0.
check() {
  if grep -aEq "$3" "$1"; then echo "  ok   $2"; else echo "  FAIL $2"; CHECKS_OK=0; fi
}
