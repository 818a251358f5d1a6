#!/usr/bin/env bash
# Download every wheel of requirements.txt on the HOST into wheelhouse/.
# HTTPS from inside containers fails on the build machine, so the Dockerfile
# installs with `pip install --no-index --find-links /wheelhouse` instead.
#
# Usage: app_sources/reference/fetch-wheels.sh [WHEELHOUSE_DIR]
# Skips the download when the wheelhouse is complete for the current
# requirements.txt (stamp file = sha256 of requirements.txt).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
requirements="${here}/requirements.txt"
wheelhouse="${1:-${WHEELHOUSE:-${here}/wheelhouse}}"
pip_cmd="${PIP:-python3 -m pip}"
stamp="${wheelhouse}/.complete"
want="$(sha256sum "${requirements}" | cut -d' ' -f1)"

count_wanted() { grep -cE '^[A-Za-z0-9]' "${requirements}"; }
count_have() { find "${wheelhouse}" -maxdepth 1 -name '*.whl' | wc -l; }

if [[ -f "${stamp}" && "$(cat "${stamp}")" == "${want}" ]] \
    && (( $(count_have) >= $(count_wanted) )); then
    echo "fetch-wheels: ${wheelhouse} already complete ($(count_have) wheels)"
    exit 0
fi

mkdir -p "${wheelhouse}"
# Target platform = the image: CPython 3.11 (Debian 12), glibc 2.36, x86_64.
# requirements.txt is fully pinned, hence --no-deps.
${pip_cmd} download \
    --disable-pip-version-check \
    --only-binary=:all: --no-deps \
    --implementation cp --python-version 3.11 --abi cp311 --abi abi3 --abi none \
    --platform manylinux_2_36_x86_64 --platform manylinux_2_34_x86_64 \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux1_x86_64 \
    --platform manylinux_2_5_x86_64 --platform any \
    -d "${wheelhouse}" -r "${requirements}"

if (( $(count_have) < $(count_wanted) )); then
    echo "fetch-wheels: only $(count_have) of $(count_wanted) wheels in ${wheelhouse}" >&2
    exit 1
fi
echo "${want}" > "${stamp}"
echo "fetch-wheels: ${wheelhouse} complete ($(count_have) wheels)"
