"""Project paths. Use these instead of relative paths: code and notebooks then run the same
from Jupyter, papermill, DVC stages and tests, whatever the working directory."""

from pathlib import Path

from dotenv import load_dotenv


def project_root() -> Path:
    """The project's folder, however the package was installed: where its source is (an
    editable install, the usual case), else the nearest folder at or above the working
    directory that holds this project's source (a plain `pip install .`, as in a Docker
    image), else the working directory."""
    source = Path(__file__).resolve().parents[2]
    if (source / "pyproject.toml").is_file():
        return source
    here = Path.cwd().resolve()
    package = Path(__file__).resolve().parent.name
    for folder in (here, *here.parents):
        if (folder / "src" / package / "config.py").is_file():
            return folder
    return here


PROJ_ROOT = project_root()

# Credentials and endpoints of this machine, from the git-ignored .env (see .env.example);
# variables already set in the environment win.
ENV_FILE = PROJ_ROOT / ".env"
load_dotenv(ENV_FILE)

DATA_DIR = PROJ_ROOT / "data"
RAW_DATA_DIR = DATA_DIR / "raw"
INTERIM_DATA_DIR = DATA_DIR / "interim"
PROCESSED_DATA_DIR = DATA_DIR / "processed"
EXTERNAL_DATA_DIR = DATA_DIR / "external"

MODELS_DIR = PROJ_ROOT / "models"
NOTEBOOKS_DIR = PROJ_ROOT / "notebooks"
PARAMS_DIR = PROJ_ROOT / "params"
REPORTS_DIR = PROJ_ROOT / "reports"
FIGURES_DIR = REPORTS_DIR / "figures"
