#!/bin/sh
# azure_cli_credential against the real Azure CLI, logged in to a fake Entra ID
# on loopback TLS, with no network at all. Follows shared/design/REAL_AZ.md:
#   - az runs only inside a network namespace whose only interface is
#     loopback, so a mistake cannot send anything anywhere;
#   - az gets its own AZURE_CONFIG_DIR (and HOME), with telemetry and the
#     survey turned off in its config and versionCheck.json written before the
#     first command (otherwise az looks for updates); `az --version` is never run;
#   - the fake's CA is trusted through REQUESTS_CA_BUNDLE only.
#
# Usage: real_az_test.sh FAKE_ENTRA_AZ REAL_AZ_DRIVER
# Exit status 77 (meson: skipped) when az, unshare or ip is missing, or no
# network namespace can be made here.
set -eu

fake_entra=$1
driver=$2

if [ "${KEYLESS_REAL_AZ_INSIDE:-}" != 1 ]; then
  for tool in az unshare ip; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "SKIP: $tool is not installed"
      exit 77
    fi
  done
  # Root gets a plain network namespace; anyone else a user namespace too.
  if [ "$(id -u)" = 0 ]; then
    set -- unshare -n
  else
    set -- unshare -r -n
  fi
  if ! "$@" true >/dev/null 2>&1; then
    echo "SKIP: cannot create a network namespace ($*)"
    exit 77
  fi
  KEYLESS_REAL_AZ_INSIDE=1 exec "$@" -- "$0" "$fake_entra" "$driver"
fi

# --- inside the namespace from here on ---
ip link set lo up
if ip -o link show | grep -v ': lo:' | grep -q .; then
  echo "FAIL: the namespace has interfaces other than lo; refusing to run az"
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/keyless-real-az-XXXXXX")
fake_pid=
cleanup() {
  if [ -n "$fake_pid" ]; then kill "$fake_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

export HOME="$work/home"
mkdir -p "$HOME"
export AZURE_CORE_COLLECT_TELEMETRY=0
export AZURE_CORE_SURVEY_MESSAGE=no
export AZURE_CORE_NO_COLOR=true
# az's Python must not pick up a proxy or a cloud from the caller.
unset HTTPS_PROXY HTTP_PROXY https_proxy http_proxy AZURE_CLOUD_NAME 2>/dev/null || true

# The installed version, read from az's own package (not from `az --version`,
# which checks for updates).
az_python=$(head -n 1 "$(command -v az)" | sed 's/^#! *//')
version=$($az_python -c 'from azure.cli.core import __version__; print(__version__)' 2>/dev/null || true)
if [ -z "$version" ]; then
  echo "FAIL: cannot read the installed Azure CLI version from its package"
  exit 1
fi

# A configuration directory az may use without ever phoning home.
prepare_config_dir() {
  mkdir -p "$1"
  printf '[core]\ncollect_telemetry = no\nsurvey_message = no\nfirst_run = no\n' >"$1/config"
  now=$(date '+%Y-%m-%d %H:%M:%S.000000')
  cat >"$1/versionCheck.json" <<EOF
{"versions": {"azure-cli": {"local": "$version", "pypi": "$version"}, "core": {"local": "$version", "pypi": "$version"}}, "update_time": "$now", "check_time": "$now"}
EOF
}

logged_in="$work/az-logged-in"
fresh="$work/az-fresh"
prepare_config_dir "$logged_in"
prepare_config_dir "$fresh"
export AZURE_CONFIG_DIR="$logged_in"

client=11111111-2222-4333-8444-555555555555
secret=keyless-fake-secret-not-a-real-one
tenant=aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee
expires_in=3599

state="$work/state"
mkdir -p "$state"
"$fake_entra" "$state" "$client" "$secret" "$tenant" "$expires_in" >"$work/fake.log" 2>&1 &
fake_pid=$!
i=0
while [ ! -s "$state/port" ]; do
  i=$((i + 1))
  if [ "$i" -gt 200 ] || ! kill -0 "$fake_pid" 2>/dev/null; then
    echo "FAIL: the fake Entra ID did not start"
    cat "$work/fake.log"
    exit 1
  fi
  sleep 0.05
done
port=$(cat "$state/port")
export REQUESTS_CA_BUNDLE="$state/keyless-test-ca.pem"

run_az() {
  if ! az "$@" >>"$work/az.log" 2>&1; then
    echo "FAIL: az $1 $2 failed"
    cat "$work/az.log"
    echo "--- requests the fake saw:"
    cat "$state/requests" 2>/dev/null || true
    exit 1
  fi
}

# An ADFS-shaped authority: MSAL skips instance discovery (a Microsoft host)
# for it. Registering every endpoint also stops az fetching {arm}/metadata/endpoints.
run_az cloud register --name KeylessFakeCloud \
  --endpoint-active-directory "https://127.0.0.1:$port/adfs" \
  --endpoint-resource-manager "https://127.0.0.1:$port/" \
  --endpoint-active-directory-resource-id https://management.core.windows.net/ \
  --endpoint-active-directory-graph-resource-id https://graph.windows.net/ \
  --endpoint-management https://management.core.windows.net/
run_az cloud set --name KeylessFakeCloud
run_az login --service-principal -u "$client" -p "$secret" --tenant "$tenant" \
  --allow-no-subscriptions
echo "az $version logged in to the fake Entra ID on 127.0.0.1:$port"

status=0
check() {
  echo "--- $*"
  if ! "$@"; then
    status=1
  fi
}

# A token, with az's local-time expiresOn read back in two zones far from
# UTC (each for a new resource, so az asks the fake again).
check env TZ='IST-5:30' "$driver" success https://cognitiveservices.azure.com/.default \
  "$state/issued" "$expires_in"
check env TZ='PST8PDT,M3.2.0,M11.1.0' "$driver" success https://vault.azure.net/.default \
  "$state/issued" "$expires_in"
# A configuration directory nobody logged in to.
check env AZURE_CONFIG_DIR="$fresh" "$driver" not_logged_in \
  https://cognitiveservices.azure.com/.default
# Entra ID now refuses the secret; a new resource makes az ask again.
touch "$state/reject"
check "$driver" refused https://storage.azure.com/.default AADSTS7000215

if [ "$status" != 0 ]; then
  echo "--- requests the fake saw:"
  cat "$state/requests" 2>/dev/null || true
fi
exit "$status"
