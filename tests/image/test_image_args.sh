#!/usr/bin/env bash
# tools/image's argument handling, on the host, without building anything: a
# production image or bundle must name its release certificate / signing key or
# is refused (--test-keys selects the TEST-ONLY PKI), and every refusal comes
# before the first heavy step. The heavy steps' first commands (dpkg-query and
# apt-get of the host tools, mmdebstrap, rauc, mkfs.ext4) are stubs on PATH that
# record their call and fail, so a refusal that came too late shows as a
# recorded call, and an accepted argument list shows as reaching them.
# Usage: test_image_args.sh SOURCE_DIR (CTest passes it).
set -uo pipefail

src=${1:?source dir}
image=$src/tools/image
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/stub"
for c in dpkg-query apt-get sudo mmdebstrap rauc mkfs.ext4 qemu-aarch64-static; do
  printf '#!/bin/sh\necho "%s $*" >> "%s/calls"\nexit 1\n' "$c" "$t" > "$t/stub/$c"
  chmod +x "$t/stub/$c"
done
export PATH=$t/stub:$PATH
# Nothing outside the temporary directory: the cache (TEST-ONLY keys) and no
# aarch64 build (a missing executable is an error, not a build).
export CHECKPOINT_IMAGE_CACHE=$t/cache CHECKPOINT_IMAGE_BIN=$t/no-bin
unset CHECKPOINT_RELEASE_CERT CHECKPOINT_RELEASE_KEY CHECKPOINT_RELEASE_CERT_SIGNER

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$t/release.key" \
  -out "$t/release-ca.crt" -subj "/CN=release CA (TEST-ONLY)" -days 2 2>/dev/null ||
  { echo "openssl could not make a certificate"; exit 1; }
cp "$t/release-ca.crt" "$t/signer.crt"
printf 'not a certificate\n' > "$t/garbage.crt"
: > "$t/rootfs.ext4"

failures=0
ok() { echo "ok   $1"; }
no() { echo "FAIL $1"; failures=$((failures + 1)); }

run() { rm -f "$t/calls"; "$@" >"$t/out" 2>&1; }
refused() {  # refused CASE EXPECTED_MESSAGE COMMAND...
  local what=$1 expect=$2; shift 2
  rm -rf "$t/o"
  run "$@"
  local rc=$?
  if ((rc == 0)); then no "$what: refused (exit 0)"; return; fi
  if grep -q -- "$expect" "$t/out"; then ok "$what: refused, says '$expect'"
  else no "$what: says '$expect' (it said: $(head -c 400 "$t/out"))"; fi
  if [[ -s $t/calls ]]; then no "$what: refused before any heavy step (it ran: $(head -n 3 "$t/calls" | tr '\n' ';'))"
  else ok "$what: refused before any heavy step"; fi
  if [[ -e $t/o ]]; then no "$what: no output folder made"; else ok "$what: no output folder made"; fi
}
reaches_work() {  # reaches_work CASE COMMAND...: the arguments pass, the first heavy step runs
  local what=$1; shift
  rm -rf "$t/o"
  run "$@"
  if grep -q '^dpkg-query ' "$t/calls" 2>/dev/null; then ok "$what: accepted, the build starts"
  else no "$what: accepted, the build starts (it said: $(head -c 400 "$t/out"))"; fi
}

# ---- a production image must name its release certificate --------------------------------
refused "build without a release certificate" "no release certificate" "$image" build --out "$t/o"
refused "default command without a release certificate" "no release certificate" "$image" --out "$t/o"
refused "CHECKPOINT_RELEASE_CERT naming a missing file" "no such readable file" \
  env CHECKPOINT_RELEASE_CERT="$t/absent.crt" "$image" build --out "$t/o"
refused "--release-cert that is not a certificate" "not a PEM certificate" \
  "$image" build --release-cert "$t/garbage.crt" --out "$t/o"
refused "--release-cert without a value" "needs a value" "$image" build --out "$t/o" --release-cert
refused "--test-keys and a release certificate together" "exclude each other" \
  "$image" build --test-keys --release-cert "$t/release-ca.crt" --out "$t/o"
refused "--test-unhealthy in a production image" "needs --test-keys" \
  "$image" build --release-cert "$t/release-ca.crt" --test-unhealthy --out "$t/o"
refused "unknown option" "unknown option --frobnicate" \
  "$image" build --release-cert "$t/release-ca.crt" --frobnicate --out "$t/o"

# ---- a production bundle must name its signing key -----------------------------------------
refused "bundle without a signing key" "no release signing key" \
  "$image" bundle --release-cert "$t/release-ca.crt" --version 1.0 --out "$t/o"
refused "bundle of an existing rootfs without a signing key" "no release signing key" \
  "$image" bundle --rootfs "$t/rootfs.ext4" --version 1.0 --out "$t/o"
refused "bundle with a signing key but no release certificate for its rootfs" "no release certificate" \
  env CHECKPOINT_RELEASE_KEY="$t/release.key" CHECKPOINT_RELEASE_CERT_SIGNER="$t/signer.crt" \
  "$image" bundle --version 1.0 --out "$t/o"
refused "bundle with a signing key that is missing" "signer certificate missing" \
  env CHECKPOINT_RELEASE_KEY="$t/absent.key" CHECKPOINT_RELEASE_CERT_SIGNER="$t/signer.crt" \
  "$image" bundle --rootfs "$t/rootfs.ext4" --version 1.0 --out "$t/o"
refused "bundle with --test-keys and a signing key together" "exclude each other" \
  env CHECKPOINT_RELEASE_KEY="$t/release.key" CHECKPOINT_RELEASE_CERT_SIGNER="$t/signer.crt" \
  "$image" bundle --test-keys --version 1.0 --out "$t/o"

# ---- what is accepted reaches the build (so the refusals above are about the arguments) -------
reaches_work "build with --release-cert" "$image" build --release-cert "$t/release-ca.crt" --out "$t/o"
reaches_work "build with CHECKPOINT_RELEASE_CERT" \
  env CHECKPOINT_RELEASE_CERT="$t/release-ca.crt" "$image" build --out "$t/o"
reaches_work "build with --test-keys (TEST-ONLY image)" "$image" build --test-keys --out "$t/o"
if grep -q 'TEST-ONLY image' "$t/out"; then ok "--test-keys says the image is TEST-ONLY"
else no "--test-keys says the image is TEST-ONLY"; fi
reaches_work "bundle with a signing key and --release-cert" \
  env CHECKPOINT_RELEASE_KEY="$t/release.key" CHECKPOINT_RELEASE_CERT_SIGNER="$t/signer.crt" \
  "$image" bundle --release-cert "$t/release-ca.crt" --version 1.0 --out "$t/o"

echo "$failures failure(s)"
((failures == 0))
