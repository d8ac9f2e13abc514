"""Errors that describe a user mistake; the command line prints them as one line, never a traceback."""


class UnipoError(ValueError):
    """A problem with what the user asked for or gave us (a file, an option, a run directory).

    Subclasses ValueError so that library callers can catch the usual exception type.
    """
