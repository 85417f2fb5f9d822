"""The one exception type a user should ever see from gantutor.

Every error raised for bad input (a missing dataset, a corrupted file, a wrong option)
is a ``GantutorError`` whose message says what was wrong and what to do. The command
line prints the message and exits with status 2 instead of showing a traceback.
"""


class GantutorError(Exception):
    """A problem with the user's input or environment, explained in the message."""


class DataNotFoundError(GantutorError, FileNotFoundError):
    """A dataset could be neither found on disk nor downloaded."""


class CorruptFileError(GantutorError, ValueError):
    """A file exists but its contents are not what they claim to be."""
