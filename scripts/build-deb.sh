#!/usr/bin/env bash
# Builds observer_VERSION_ARCH.deb with dpkg-buildpackage from a copy of this
# tree (the files git knows, committed or not), so the build leaves nothing
# in the checkout and nothing beside it, and puts the .deb, and lintian's
# report on it, in build/deb/.
#
#   scripts/build-deb.sh [extra dpkg-buildpackage arguments]
#
# Needs (Debian packages): dpkg-dev debhelper lintian and the Build-Depends
# of debian/control (`apt-get build-dep ./` installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$PWD/build/deb
work=$(mktemp -d /tmp/observer-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT

version=$(dpkg-parsechangelog -S Version)
# A native package: its version is observer's own, from CMakeLists.txt.
cmake_version=$(sed -n 's/^project(observer VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
if [ "$version" != "$cmake_version" ]; then
  echo "build-deb: debian/changelog says $version, CMakeLists.txt $cmake_version; add a changelog entry (dch -v $cmake_version)" >&2
  exit 1
fi
src=$work/observer-$version
mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard | \
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done | \
  tar --null -T - -cf - | tar -xf - -C "$src"

(cd "$src" && dpkg-buildpackage -us -uc -b "$@")

mkdir -p "$out"
rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out"/
deb=$(ls "$out"/observer_"$version"_*.deb)
echo "build-deb: $deb"
if command -v lintian >/dev/null 2>&1; then
  lintian --info --display-info --pedantic "$out"/*.changes | tee "$out/lintian.txt"
fi
