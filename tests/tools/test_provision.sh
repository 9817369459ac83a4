#!/usr/bin/env bash
# tools/provision with a TEST-ONLY PKI (tools/test-pki): a complete tree with the
# right modes, a certificate that verifies against the fleet CA and matches the
# key, a configuration checkpointd accepts; bad inputs fail and write nothing.
# Usage: test_provision.sh SOURCE_DIR BIN_DIR (CTest passes both).
set -uo pipefail

src=${1:?source dir}
bin=${2:?bin dir}
provision="$src/tools/provision"
read -r -a emulator <<< "${CHECKPOINT_EMULATOR:-}"
export CHECKPOINTD="$bin/checkpointd"
[[ -x "$CHECKPOINTD" ]] || { echo "checkpointd not built at $CHECKPOINTD"; exit 1; }

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
"$src/tools/test-pki" "$t/pki" gate-01 gate-02 2>/dev/null || { echo "test-pki failed"; exit 1; }
pki=$t/pki

failures=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@" >/dev/null; then echo "ok   $what"; else echo "FAIL $what"; failures=$((failures + 1)); fi
}

common=(--site "Ranghulu North" --lane gate --board host-sim --upstream https://cc.example.org:8443
        --fleet-ca "$pki/fleet-ca.crt" --trust "$pki/issuer.crt" --list-signer "$pki/list-signer.crt")

mode_of() { stat -c '%a' "$1"; }
pub_cert() { openssl x509 -in "$1" -noout -pubkey; }
pub_key() { openssl pkey -in "$1" -pubout; }

# ---- a device key made by the tool --------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -C technician@example -f "$t/tech" >/dev/null
"$provision" --id gate-07 "${common[@]}" --ca-key "$pki/fleet-ca.key" --ssh-key "$t/tech.pub" \
  --out "$t/gate-07" --tar "$t/gate-07.tar" >"$t/log" 2>&1
check "provision (tool-made key) exits 0" test $? -eq 0
e=$t/gate-07/etc/checkpoint
for f in checkpointd.conf device.key device.crt fleet-ca.crt list-signer.crt trust/01-issuer.crt; do
  check "tree has etc/checkpoint/$f" test -s "$e/$f"
done
check "device.key is 0600" test "$(mode_of "$e/device.key")" = 600
check "certificates are 0644" test "$(mode_of "$e/device.crt")$(mode_of "$e/fleet-ca.crt")" = 644644
check "etc/checkpoint is 0755 (the daemon's user reads its configuration)" test "$(mode_of "$e")" = 755
# The key stays root-only on disk; checkpointd.service hands it to the daemon as
# the systemd credential named like the file the configuration names.
unit=$src/firmware/systemd/checkpointd.service
key_file=$(sed -n 's/^key_file = //p' "$e/checkpointd.conf")
check "config names the key at /etc/checkpoint/device.key" test "$key_file" = /etc/checkpoint/device.key
check "checkpointd.service loads that key as the credential device.key" \
  grep -qx "LoadCredential=$(basename "$key_file"):$key_file" "$unit"
check "checkpointd.service has a blank stand-in when there is no key" \
  grep -qx 'SetCredential=device.key:\\n' "$unit"
check "authorized_keys is 0600 and holds the key" \
  cmp -s <(grep -v '^$' "$t/tech.pub") "$t/gate-07/etc/ssh/authorized_keys"
check "authorized_keys mode" test "$(mode_of "$t/gate-07/etc/ssh/authorized_keys")" = 600
check "device.key is EC P-256" bash -c "openssl pkey -in '$e/device.key' -noout -text | grep -q 'NIST CURVE: P-256'"
check "certificate verifies against the fleet CA for clientAuth" \
  openssl verify -CAfile "$pki/fleet-ca.crt" -purpose sslclient "$e/device.crt"
check "certificate does not verify against another CA" \
  bash -c "! openssl verify -CAfile '$pki/wrong-ca.crt' '$e/device.crt' >/dev/null 2>&1"
check "certificate matches device.key" test "$(pub_cert "$e/device.crt")" = "$(pub_key "$e/device.key")"
check "certificate CN is the device id" \
  bash -c "openssl x509 -in '$e/device.crt' -noout -subject -nameopt multiline | grep -q 'commonName *= gate-07$'"
check "certificate has clientAuth" \
  bash -c "openssl x509 -in '$e/device.crt' -noout -ext extendedKeyUsage | grep -q 'TLS Web Client Authentication'"
"${emulator[@]}" "$CHECKPOINTD" --config "$e/checkpointd.conf" --board "$src/board/host-sim/board.conf" \
  --check-config >"$t/effective" 2>/dev/null
check "checkpointd accepts checkpointd.conf" test $? -eq 0
check "effective config holds id, site, lane, upstream" bash -c \
  "grep -qx 'id = \"gate-07\"' '$t/effective' && grep -qx 'site = \"Ranghulu North\"' '$t/effective' &&
   grep -qx 'lane = \"gate\"' '$t/effective' && grep -qx 'url = \"https://cc.example.org:8443\"' '$t/effective'"
sed 's/^lane = gate/lane = bus/' "$e/checkpointd.conf" > "$t/broken.conf"
refused() { ! "${emulator[@]}" "$CHECKPOINTD" --config "$1" --board "$src/board/host-sim/board.conf" \
            --check-config >/dev/null 2>&1; }
check "checkpointd --check-config refuses a bad lane (the check can fail)" refused "$t/broken.conf"
check "config names the identity files at their device paths" bash -c \
  "grep -qx 'cert_file = /etc/checkpoint/device.crt' '$e/checkpointd.conf' &&
   grep -qx 'list_signer = /etc/checkpoint/list-signer.crt' '$e/checkpointd.conf'"
# checkpoint diag finds the identity the config names: here the tree stands in
# for /etc/checkpoint, as it does on the device through /data.
sed "s#/etc/checkpoint/#$e/#" "$e/checkpointd.conf" > "$t/here.conf"
"${emulator[@]}" "$bin/checkpoint" diag --json --timeout 1 --config "$t/here.conf" \
  --board "$src/board/host-sim/board.conf" --frame "$t/frame.png" >"$t/diag.json" 2>/dev/null
check "checkpoint diag: the provisioned identity is ok" grep -q '"name":"identity","status":"ok"' "$t/diag.json"
check "checkpoint diag: the provisioned upstream is used" grep -q '"url":"https://cc.example.org:8443"' "$t/diag.json"
mkdir "$t/untar" && tar -C "$t/untar" -xf "$t/gate-07.tar"
check "tar holds the same tree" diff -r "$t/untar" "$t/gate-07"
check "tar keeps device.key 0600" bash -c "tar tvf '$t/gate-07.tar' | grep -q -- '-rw------- 0/0 .* etc/checkpoint/device.key'"
check "tar keeps etc/checkpoint 0755 root" bash -c "tar tvf '$t/gate-07.tar' | grep -q -- '^drwxr-xr-x 0/0 .* etc/checkpoint/$'"
# Unpacked as root, as the technician does into /data: another user (standing in
# for the daemon's) reads the configuration and certificates but not the key.
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
  chmod 0711 "$t"
  as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
  mkdir "$t/unpacked" && tar -C "$t/unpacked" --same-owner -xf "$t/gate-07.tar"
  check "unpacked: the daemon's user reads checkpointd.conf and device.crt" \
    as_nobody cat "$t/unpacked/etc/checkpoint/checkpointd.conf" "$t/unpacked/etc/checkpoint/device.crt"
  check "unpacked: the daemon's user cannot read device.key" \
    bash -c "! setpriv --reuid=65534 --regid=65534 --clear-groups cat '$t/unpacked/etc/checkpoint/device.key' 2>/dev/null"
  check "unpacked: device.key is root:root 0600" test "$(stat -c '%u:%g %a' "$t/unpacked/etc/checkpoint/device.key")" = "0:0 600"
  chmod 0700 "$t"
else
  echo "skip unpacked-tree access checks (need root and setpriv)"
fi
check "no password anywhere in the tree" bash -c "! grep -rqi password '$t/gate-07'"
check "no key material in the tool's output" bash -c "! grep -q 'PRIVATE KEY\|BEGIN' '$t/log'"

# ---- a CSR made on the device (the documented openssl command) ------------------------
mkdir -p "$t/device"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$t/device/device.key" \
  -subj /CN=lane-truck-3 -out "$t/device/device.csr" 2>/dev/null
"$provision" --id lane-truck-3 "${common[@]/gate/truck}" --direction out --ca-key "$pki/fleet-ca.key" \
  --csr "$t/device/device.csr" --out "$t/truck" >"$t/log" 2>&1
check "provision (device CSR) exits 0" test $? -eq 0
check "no device.key leaves the device" test ! -e "$t/truck/etc/checkpoint/device.key"
check "CSR certificate matches the device's key" \
  test "$(pub_cert "$t/truck/etc/checkpoint/device.crt")" = "$(pub_key "$t/device/device.key")"
check "CSR certificate verifies" openssl verify -CAfile "$pki/fleet-ca.crt" -purpose sslclient \
  "$t/truck/etc/checkpoint/device.crt"
check "truck lane, direction out" bash -c "grep -qx 'lane = truck' '$t/truck/etc/checkpoint/checkpointd.conf' &&
  grep -qx 'direction = out' '$t/truck/etc/checkpoint/checkpointd.conf'"
check "no SSH without --ssh-key" test ! -e "$t/truck/etc/ssh"

# ---- an identity issued before ----------------------------------------------------------
"$provision" --id gate-01 "${common[@]}" --device-key "$pki/device-gate-01.key" \
  --device-cert "$pki/device-gate-01.crt" --out "$t/gate-01" >"$t/log" 2>&1
check "provision (existing identity) exits 0" test $? -eq 0
check "existing identity copied" cmp -s "$pki/device-gate-01.crt" "$t/gate-01/etc/checkpoint/device.crt"

# ---- an encrypted CA key: the passphrase from the environment, never an argument ------------
openssl pkey -in "$pki/fleet-ca.key" -aes256 -passout pass:TEST-ONLY-pass -out "$t/enc-ca.key" && chmod 0600 "$t/enc-ca.key"
PROVISION_CA_PASS=TEST-ONLY-pass "$provision" --id gate-08 "${common[@]}" --ca-key "$t/enc-ca.key" \
  --out "$t/gate-08" >"$t/log" 2>&1
check "provision (encrypted CA key) exits 0" test $? -eq 0
check "encrypted CA key: certificate verifies" openssl verify -CAfile "$pki/fleet-ca.crt" -purpose sslclient \
  "$t/gate-08/etc/checkpoint/device.crt"

# ---- bad inputs: a clear error, nothing written -----------------------------------------
cp "$pki/fleet-ca.key" "$t/loose.key" && chmod 0644 "$t/loose.key"
openssl req -new -key "$pki/device-gate-02.key" -subj /CN=someone-else -out "$t/other.csr" 2>/dev/null
printf 'not a csr\n' > "$t/garbage.csr"
bad() {  # bad DESCRIPTION EXPECTED_MESSAGE ARGS...
  local what=$1 expect=$2; shift 2
  local dest=$t/bad-out
  "$provision" "$@" --out "$dest" --tar "$dest.tar" >"$t/log" 2>&1
  local rc=$?
  check "$what: fails" test "$rc" -ne 0
  check "$what: says '$expect'" grep -q -- "$expect" "$t/log"
  check "$what: writes nothing" bash -c "! ls -A '$t' | grep -q '^bad-out\|^\.provision'"
}
bad "unknown lane" "unknown lane 'bus'" --id gate-09 "${common[@]/gate/bus}" --ca-key "$pki/fleet-ca.key"
bad "bad id" "device id 'gate 09'" --id 'gate 09' "${common[@]}" --ca-key "$pki/fleet-ca.key"
bad "missing trust file" "no such readable file" --id gate-09 "${common[@]}" --trust "$t/nope.crt" \
  --ca-key "$pki/fleet-ca.key"
bad "no CA key" "no default key" --id gate-09 "${common[@]}"
bad "CA key readable by others" "mode 644" --id gate-09 "${common[@]}" --ca-key "$t/loose.key"
bad "CA key of another CA" "CA mismatch" --id gate-09 "${common[@]}" --ca-key "$pki/wrong-ca.key"
bad "certificate from another CA" "CA mismatch" --id localhost "${common[@]}" \
  --device-key "$pki/server-wrong-ca.key" --device-cert "$pki/server-wrong-ca.crt"
bad "certificate not matching the key" "does not match the device key" --id gate-01 "${common[@]}" \
  --device-key "$pki/device-gate-02.key" --device-cert "$pki/device-gate-01.crt"
bad "certificate of another device" "not for device 'gate-02'" --id gate-02 "${common[@]}" \
  --device-key "$pki/device-gate-01.key" --device-cert "$pki/device-gate-01.crt"
bad "CSR for another CN" "not for device 'gate-09'" --id gate-09 "${common[@]}" --ca-key "$pki/fleet-ca.key" \
  --csr "$t/other.csr"
bad "CSR that is not one" "not a valid" --id gate-09 "${common[@]}" --ca-key "$pki/fleet-ca.key" \
  --csr "$t/garbage.csr"
bad "plain http upstream" "https only" --id gate-09 "${common[@]/https:/http:}" --ca-key "$pki/fleet-ca.key"
bad "unknown board" "unknown board 'pc'" --id gate-09 "${common[@]/host-sim/pc}" --ca-key "$pki/fleet-ca.key"
bad "private SSH key" "private key" --id gate-09 "${common[@]}" --ca-key "$pki/fleet-ca.key" --ssh-key "$t/tech"
bad "list signer not a certificate" "not a PEM certificate" --id gate-09 "${common[@]/list-signer.crt/issuer.key}" \
  --ca-key "$pki/fleet-ca.key"
export PROVISION_CA_PASS=wrong
bad "encrypted CA key, wrong passphrase" "PROVISION_CA_PASS" --id gate-09 "${common[@]}" --ca-key "$t/enc-ca.key"
unset PROVISION_CA_PASS
"$provision" --id gate-07 "${common[@]}" --ca-key "$pki/fleet-ca.key" --out "$t/gate-07" >"$t/log" 2>&1
check "an existing output: fails" test $? -ne 0
check "an existing output: says so" grep -q 'refusing to overwrite' "$t/log"
check "an existing output: left as it was" cmp -s "$t/untar/etc/checkpoint/device.crt" "$t/gate-07/etc/checkpoint/device.crt"

echo "$failures failure(s)"
((failures == 0))
