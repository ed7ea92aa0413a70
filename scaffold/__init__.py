"""scaffold: one command for a notebook data-science project that stays reproducible."""

__version__ = "0.1.0"
