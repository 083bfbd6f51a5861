#!/usr/bin/env bash
# Regenerate requirements-docker.txt: the image's Python packages (strigil[server]'s runtime
# dependencies and the build backend that installs strigil itself), at the versions of
# constraints.txt, each file pinned by the SHA-256 the package index publishes.
# Run from the repository root (`make docker-lock`) after changing pyproject.toml or
# constraints.txt; it needs the package index and takes a few minutes.
set -euo pipefail
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet pip-tools==7.6.2
printf 'setuptools\nwheel\n' > "$work/build.in"
"$work/venv/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras \
    --no-emit-index-url --no-emit-find-links --no-header --annotation-style=line --extra server \
    -c constraints.txt -o "$work/out.txt" pyproject.toml "$work/build.in"
{
    echo "# The image's Python packages, every file pinned by its SHA-256 (pip install"
    echo "# --require-hashes). Generated from pyproject.toml and constraints.txt by"
    echo "# deploy/lock-docker-requirements.sh (make docker-lock); never edit by hand."
    echo "# tests/test_docker_hygiene.py checks it agrees with both."
    sed -e "s#$work/build.in#the build backend#" "$work/out.txt"
} > requirements-docker.txt
echo "requirements-docker.txt: $(grep -c '==' requirements-docker.txt) packages"
