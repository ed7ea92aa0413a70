"""{{ cookiecutter.module_name }}: code shared by the notebooks and the pipeline."""

__version__ = "0.1.0"
