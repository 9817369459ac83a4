#!/usr/bin/env bash
# The image's RAUC anti-rollback handlers (firmware/image/rootfs/usr/lib/checkpoint/
# rauc-pre-install and rauc-post-install) run on the host with a fake RAUC
# environment: a temporary release file, bundle manifest and newest-installed
# record (CHECKPOINT_RELEASE_FILE, CHECKPOINT_NEWEST_FILE point there). A newer
# bundle is accepted and recorded; an equal or older one, one older than the
# newest ever installed (after a fallback to an older slot), a version dpkg
# cannot parse, a missing release file, a missing manifest and a broken record
# are refused. Usage: test_anti_rollback.sh SOURCE_DIR (CTest passes it).
set -uo pipefail

src=${1:?source dir}
h=$src/firmware/image/rootfs/usr/lib/checkpoint
command -v dpkg >/dev/null || { echo "dpkg --compare-versions is needed"; exit 1; }

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/bundle" "$t/data/rauc"
export CHECKPOINT_RELEASE_FILE=$t/checkpoint-release CHECKPOINT_NEWEST_FILE=$t/data/rauc/newest-version
# RAUC's variables: the bundle's version comes from the mounted bundle's manifest.
unset RAUC_MF_VERSION
export RAUC_BUNDLE_MOUNT_POINT=$t/bundle RAUC_MOUNT_PREFIX=$t

failures=0
ok() { echo "ok   $1"; }
no() { echo "FAIL $1"; failures=$((failures + 1)); }

running() { printf 'NAME=checkpoint-scanner\nVERSION=%s\n' "$1" > "$CHECKPOINT_RELEASE_FILE"; }
bundle() {  # the manifest tools/image bundle writes
  printf '[update]\ncompatible=checkpoint-scanner-arm64\nversion=%s\n\n[bundle]\nformat=verity\n\n[image.rootfs]\nfilename=rootfs.ext4\n' \
    "$1" > "$t/bundle/manifest.raucm"
}
pre() { "$h/rauc-pre-install" >"$t/out" 2>&1; }
post() { "$h/rauc-post-install" >"$t/out" 2>&1; }
newest() { cat "$CHECKPOINT_NEWEST_FILE" 2>/dev/null; }
record_is() {  # record_is CASE VERSION
  if [[ $(newest) == "$2" ]]; then ok "$1"; else no "$1 (the record holds '$(newest)')"; fi
}

accepted() {  # accepted CASE
  if pre; then ok "$1: accepted"; else no "$1: accepted (handler said: $(cat "$t/out"))"; fi
}
refused() {  # refused CASE EXPECTED_MESSAGE
  if pre; then no "$1: refused (handler accepted it)"; return; fi
  if grep -q -- "$2" "$t/out"; then ok "$1: refused, says '$2'"
  else no "$1: refused, says '$2' (it said: $(cat "$t/out"))"; fi
}

# ---- first install: no record yet --------------------------------------------------------
running 1.0.0+20261201.120000
bundle 1.0.0+20261201.120000.1
rm -f "$CHECKPOINT_NEWEST_FILE"
accepted "newer bundle, no newest-installed record yet (first install)"
if post; then ok "post-install records the installed version"; else no "post-install records ($(cat "$t/out"))"; fi
record_is "record holds the installed version" 1.0.0+20261201.120000.1
left=$(find "$t/data/rauc" -mindepth 1 ! -name newest-version)
if [[ -z $left ]]; then ok "no temporary file left beside the record"
else no "no temporary file left beside the record ($left)"; fi

# ---- the running version --------------------------------------------------------------
bundle 1.0.0+20261201.120000
rm -f "$CHECKPOINT_NEWEST_FILE"
refused "bundle equal to the running version" "not newer than the running"
bundle 0.0.1
refused "bundle older than the running version" "bundle version 0.0.1 is older than the running"

# ---- the newest version ever installed: after a fallback to the older slot ----------------
running 1.0.0+20261201.120000
printf '1.2.0+20261202.080000\n' > "$CHECKPOINT_NEWEST_FILE"
bundle 1.1.0+20261201.150000
refused "newer than the running slot but older than the newest installed (fallback)" \
  "not newer than 1.2.0+20261202.080000, the newest installed"
bundle 1.2.0+20261202.080000
refused "equal to the newest installed" "not newer than 1.2.0+20261202.080000, the newest installed"
bundle 1.2.0+20261202.080000.1
accepted "newer than the newest installed"
post
record_is "record raised to the new version" 1.2.0+20261202.080000.1

# ---- versions nobody can compare: refused -------------------------------------------------
rm -f "$CHECKPOINT_NEWEST_FILE"
bundle garbage
refused "bundle version dpkg cannot parse ('garbage')" "bundle version 'garbage' is not a valid version"
bundle '1.0 beta'
refused "bundle version with a space" "is not a valid version"
bundle ''
refused "bundle manifest without a version" "is not a valid version"
export RAUC_MF_VERSION='-1'
refused "RAUC_MF_VERSION that is not a version" "bundle version '-1' is not a valid version"
export RAUC_MF_VERSION=1.0.0+20261201.120000.2
accepted "RAUC_MF_VERSION (newer) is used when RAUC sets it"
export RAUC_MF_VERSION=
bundle 1.0.0+20261201.120000.3
accepted "RAUC_MF_VERSION empty: the manifest's version (newer) is used"
bundle 0.0.1
refused "RAUC_MF_VERSION empty: the manifest's version (older) is used" "bundle version 0.0.1 is older"
unset RAUC_MF_VERSION

# ---- the running system's version missing or broken: refused -------------------------------
bundle 9.9.9
rm -f "$CHECKPOINT_RELEASE_FILE"
refused "no /etc/checkpoint-release" "cannot read the running version"
printf 'NAME=checkpoint-scanner\n' > "$CHECKPOINT_RELEASE_FILE"
refused "release file without VERSION=" "running version '' in"
running 'not-a-version'
refused "release file with a version dpkg cannot parse" "running version 'not-a-version' in"

# ---- no manifest at all: refused ----------------------------------------------------------------
running 1.0.0+20261201.120000
rm -f "$t/bundle/manifest.raucm"
refused "no manifest and no RAUC_MF_VERSION" "no bundle version"

# ---- a broken newest-installed record: refused, never treated as absent ---------------------------
bundle 9.9.9
printf 'zzz\n' > "$CHECKPOINT_NEWEST_FILE"
refused "record with a version dpkg cannot parse" "newest-installed record"
: > "$CHECKPOINT_NEWEST_FILE"
refused "empty record" "newest-installed record"
rm -f "$CHECKPOINT_NEWEST_FILE"; mkdir "$CHECKPOINT_NEWEST_FILE"
refused "record that is not a file" "newest-installed record"
rmdir "$CHECKPOINT_NEWEST_FILE"

# ---- recording: never lowers the record, fails loudly when it cannot write --------------------
printf '5.0.0\n' > "$CHECKPOINT_NEWEST_FILE"
bundle 4.0.0
post
record_is "post-install never lowers the record" 5.0.0
rm -f "$CHECKPOINT_NEWEST_FILE"
CHECKPOINT_NEWEST_FILE=$t/absent-dir/newest-version post
rc=$?
if ((rc != 0)) && grep -q "could not record" "$t/out"; then ok "post-install fails when it cannot write the record"
else no "post-install fails when it cannot write the record (rc $rc: $(cat "$t/out"))"; fi

echo "$failures failure(s)"
((failures == 0))
