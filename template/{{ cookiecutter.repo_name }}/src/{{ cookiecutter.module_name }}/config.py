"""Project paths. Use these instead of relative paths: code and notebooks then run the same
from Jupyter, papermill, DVC stages and tests, whatever the working directory."""

from pathlib import Path

from dotenv import load_dotenv

PROJ_ROOT = Path(__file__).resolve().parents[2]

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
