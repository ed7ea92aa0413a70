"""The one error type that scaffold's functions raise for the user to read."""


class ScaffoldError(Exception):
    """A problem the user can fix; ``str(error)`` is one readable sentence."""
