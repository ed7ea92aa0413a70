#!/usr/bin/env bash
# Set this project up on a notebook server (JupyterHub, SageMaker, Vertex AI Workbench): its
# own environment in .venv with the project installed (editable, with its dev tools),
# registered as the Jupyter kernel "{{ cookiecutter.repo_name }}", nbdime for git's notebook diffs, and the git
# hooks. `scaffold run` and `dvc repro` find .venv by themselves.
#
#   cloud/setup-env.sh                    a per-project kernel (a user, after the first pull)
#   SETUP_MODE=user cloud/setup-env.sh    into the running environment (a server image)
#
# Settings, from the environment: PYTHON (the Python that makes .venv; python3),
# KERNEL_NAME ({{ cookiecutter.repo_name }}), SETUP_MODE (kernel or user), SETUP_HOOKS (1; 0 leaves the git
# hooks out, as `make hub-setup` does: nbgitpuller commits a user's edits itself before it
# merges, and a pre-commit hook would refuse that commit). Running it again only
# reinstalls when pyproject.toml changed. uv, when the server has it, installs in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

install() {
    if command -v uv >/dev/null 2>&1; then
        uv pip install --quiet --python "$1" -e ".[$extras]"
    else
        "$1" -m pip install --quiet -e ".[$extras]"
    fi
}

python=${PYTHON:-python3}
mode=${SETUP_MODE:-kernel}
kernel=${KERNEL_NAME:-{{ cookiecutter.repo_name }}}
extras="dev{% if cookiecutter.app != 'none' %},app{% endif %}"

case "$mode" in
    kernel)
        [ -x .venv/bin/python ] || "$python" -m venv .venv
        env_python=.venv/bin/python
        stamp=.venv/.setup-env-stamp
        wanted=$(cksum < pyproject.toml)
        if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
            install "$env_python"
            echo "$wanted" > "$stamp"
        fi
        "$env_python" -m ipykernel install --user --name "$kernel" --display-name "Python ($kernel)"
        ;;
    user)
        env_python=$(command -v "$python")
        install "$env_python"
        ;;
    *)
        echo "error: SETUP_MODE is '$mode'; use kernel or user." >&2
        exit 2
        ;;
esac

bin=$(cd "$(dirname "$env_python")" && pwd)
if [ -d .git ]; then
    # nbdime names its git drivers without a path; give git this environment's (as make hooks does)
    "$bin/nbdime" config-git --enable
    git config diff.jupyternotebook.command "$bin/git-nbdiffdriver diff"
    git config merge.jupyternotebook.driver "$bin/git-nbmergedriver merge %O %A %B %L %P"
    if [ "${SETUP_HOOKS:-1}" = 1 ]; then
        "$bin/pre-commit" install
    fi
fi
echo ">>> $(pwd): environment $bin, kernel '$kernel'"
