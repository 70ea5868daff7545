#!/bin/sh
# Make the benchmark virtualenv: .venv-bench in the checkout, with the
# competitors (Tornado 6, aiohttp), the accelerators (uvloop, httptools),
# matplotlib for the plots, every Squall package installed editable, and
# the compiled build of squall-http in $venv/squall-compiled.
#
# Usage:  sh bench/setup_env.sh            (from anywhere)
#         PYTHON=python3.12 sh bench/setup_env.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
venv="${VENV:-$root/.venv-bench}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt"
for pkg in ioloop iostream http web httpclient; do
    "$venv/bin/python" -m pip install --quiet -e "$root/packages/$pkg"
done
# The compiled build of squall-http (mypyc; needs a C compiler), apart: the
# "Squall compiled" servers put it first on their path.
rm -rf "$venv/squall-compiled"
SQUALL_COMPILE=1 "$venv/bin/python" -m pip install --quiet --no-deps \
    --target "$venv/squall-compiled" "$root/packages/http"
if ! command -v wrk >/dev/null 2>&1; then
    echo "note: wrk is not installed (Debian/Ubuntu: apt-get install -y wrk)" >&2
fi
echo "benchmark environment ready: $venv/bin/python"
