#!/usr/bin/env bash
# Operator commands of the reference command centre (tools/upstream):
# - a revocation is lifted only by an explicit, logged operator action: enrolling
#   the same certificate of a revoked device leaves it revoked and says how to
#   lift it; `upstream enroll --unrevoke` lifts it and logs that it did;
# - `publish` with nothing changed is refused and names --force; --if-older-than
#   re-signs only when the newest list is that old.
# Usage: test_upstream_operator.sh SOURCE_DIR BIN_DIR (CTest passes both).
set -uo pipefail

src=${1:?source dir}
bin=${2:?bin dir}
read -r -a emulator <<< "${CHECKPOINT_EMULATOR:-}"
upstream=("${emulator[@]}" "$bin/upstream")

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
"$src/tools/test-pki" "$t/pki" gate-01 2>/dev/null || { echo "test-pki failed"; exit 1; }
db=$t/cc.db

failures=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@" >/dev/null; then echo "ok   $what"; else echo "FAIL $what"; failures=$((failures + 1)); fi
}
state() { "${upstream[@]}" devices --db "$db" | awk '$1 == "gate-01" { print $2 }'; }

"${upstream[@]}" enroll --db "$db" --cert "$t/pki/device-gate-01.crt" >"$t/out" 2>"$t/err"
check "enroll exits 0" test $? -eq 0
check "enrolled" test "$(state)" = enrolled
"${upstream[@]}" revoke --db "$db" --device gate-01 >"$t/out" 2>"$t/err"
check "revoke exits 0" test $? -eq 0
check "revoked" test "$(state)" = revoked

# The re-enroll a technician might try: refused, the device stays revoked.
"${upstream[@]}" enroll --db "$db" --cert "$t/pki/device-gate-01.crt" >"$t/out" 2>"$t/err"
check "re-enroll of a revoked device exits 1" test $? -eq 1
check "still revoked after a re-enroll" test "$(state)" = revoked
check "the refusal says how to lift it" grep -q -- "--unrevoke" "$t/err"
check "the refusal is logged" grep -q "enroll refused: device is revoked" "$t/err"

# The explicit action.
"${upstream[@]}" enroll --db "$db" --cert "$t/pki/device-gate-01.crt" --unrevoke >"$t/out" 2>"$t/err"
check "enroll --unrevoke exits 0" test $? -eq 0
check "enrolled again" test "$(state)" = enrolled
check "the lift is logged with the device" \
  grep -q 'revocation lifted by the operator.*device=gate-01' "$t/err"
check "the lift is said on stdout" grep -q "revocation of gate-01 lifted" "$t/out"

# ---- publish -------------------------------------------------------------------
sign=(--signing-key "$t/pki/list-signer.key" --signing-cert "$t/pki/list-signer.crt")
"${upstream[@]}" set-status --db "$db" --pass 0123456789abcdef0123456789abcdef --status red >/dev/null 2>&1
"${upstream[@]}" publish --db "$db" "${sign[@]}" >"$t/out" 2>"$t/err"
check "publish of a change exits 0" test $? -eq 0
"${upstream[@]}" publish --db "$db" "${sign[@]}" >"$t/out" 2>"$t/err"
check "publish with nothing changed exits 1" test $? -eq 1
check "the refusal names --force" grep -q -- "--force" "$t/err"
check "the refusal names max_list_age_s" grep -q "max_list_age_s" "$t/err"
"${upstream[@]}" publish --db "$db" "${sign[@]}" --if-older-than 3600 >"$t/out" 2>"$t/err"
check "--if-older-than with a young list exits 0" test $? -eq 0
check "... and does not re-sign it" grep -q "not re-signed" "$t/out"
"${upstream[@]}" publish --db "$db" "${sign[@]}" --force >"$t/out" 2>"$t/err"
check "--force re-signs an unchanged list" grep -q "^list version 2" "$t/out"

if ((failures)); then echo "$failures failed"; exit 1; fi
echo "all ok"
