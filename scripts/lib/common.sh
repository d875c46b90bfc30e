# Shared set-up for scripts/demo and scripts/test: install what is missing,
# then configure and build a meson build directory. Sourced, not run.

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Debian bookworm packages keyless builds, tests and demos with.
keyless_packages=(
  meson ninja-build g++ pkg-config python3 openssl ca-certificates
  libasio-dev libssl-dev libsimdjson-dev libfmt-dev libboost-test-dev libbenchmark-dev
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the named Debian packages that are not installed yet.
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# configure_build DIR [meson options...]: sets DIR up once; a later call with
# the same options only rebuilds what changed.
configure_build() {
  local dir=$1; shift
  local wanted="$*"
  if [ -f "$repo_root/$dir/build.ninja" ] && [ "$(cat "$repo_root/$dir/.keyless-options" 2>/dev/null)" = "$wanted" ]; then
    return 0
  fi
  rm -rf "${repo_root:?}/$dir"
  meson setup "$repo_root/$dir" "$repo_root" --wrap-mode=nofallback "$@"
  echo "$wanted" > "$repo_root/$dir/.keyless-options"
}

build() {
  local dir=$1; shift
  configure_build "$dir" "$@"
  ninja -C "$repo_root/$dir" ${KEYLESS_JOBS:+-j "$KEYLESS_JOBS"}
}
