#!/usr/bin/env bash
# SageMaker lifecycle configuration, "Start notebook" script: notebook instances (user
# ec2-user, projects in ~/SageMaker) and Studio's JupyterLab spaces (user sagemaker-user).
# On every start it clones the project if it is not there yet, then runs cloud/setup-env.sh
# as the notebook user: the project's .venv, the kernel "{{ cookiecutter.repo_name }}", nbdime and the hooks.
#
# Lifecycle scripts that run longer than 5 minutes fail the start, so the set-up runs in the
# background and logs to SETUP_LOG; the kernel appears in the launcher when it is done.
# Settings, from the environment: NOTEBOOK_USER, PROJECT_DIR, REPO_URL, BRANCH, SETUP_LOG,
# SETUP_IN_BACKGROUND (1; 0 waits).
set -euo pipefail

if [ -n "${NOTEBOOK_USER:-}" ]; then
    user=$NOTEBOOK_USER
elif id sagemaker-user >/dev/null 2>&1; then
    user=sagemaker-user
else
    user=ec2-user
fi
home=$(getent passwd "$user" | cut -d: -f6)
if [ "$user" = ec2-user ]; then
    default_dir=$home/SageMaker/{{ cookiecutter.repo_name }}
else
    default_dir=$home/{{ cookiecutter.repo_name }}
fi
project=${PROJECT_DIR:-$default_dir}
repo=${REPO_URL:-https://github.com/{{ cookiecutter.github_repo }}.git}
branch=${BRANCH:-main}
log=${SETUP_LOG:-$home/.{{ cookiecutter.repo_name }}-setup.log}

as_user() {
    if [ "$(id -un)" = "$user" ]; then "$@"; else sudo -u "$user" -H "$@"; fi
}

set_up() {
    [ -d "$project/.git" ] || as_user git clone --branch "$branch" "$repo" "$project"
    as_user env PYTHON="${PYTHON:-python3}" "$project/cloud/setup-env.sh"
}

if [ "${SETUP_IN_BACKGROUND:-1}" = 1 ]; then
    (trap '' HUP; set_up) > "$log" 2>&1 &
    echo "setting up $project in the background; log: $log"
else
    set_up
fi
