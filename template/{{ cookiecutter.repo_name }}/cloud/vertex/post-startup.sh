#!/usr/bin/env bash
# Vertex AI Workbench post-startup script (instance metadata post-startup-script, a gs:// URI;
# it runs as root on every start). It clones the project into the notebook user's home if it
# is not there yet, then runs cloud/setup-env.sh as that user: the project's .venv, the
# kernel "{{ cookiecutter.repo_name }}", nbdime and the hooks.
# Settings, from the environment: NOTEBOOK_USER (jupyter), PROJECT_DIR, REPO_URL, BRANCH.
set -euo pipefail

user=${NOTEBOOK_USER:-jupyter}
home=$(getent passwd "$user" | cut -d: -f6)
project=${PROJECT_DIR:-$home/{{ cookiecutter.repo_name }}}
repo=${REPO_URL:-https://github.com/{{ cookiecutter.github_repo }}.git}
branch=${BRANCH:-main}

as_user() {
    if [ "$(id -un)" = "$user" ]; then "$@"; else sudo -u "$user" -H "$@"; fi
}

[ -d "$project/.git" ] || as_user git clone --branch "$branch" "$repo" "$project"
as_user env PYTHON="${PYTHON:-python3}" "$project/cloud/setup-env.sh"
