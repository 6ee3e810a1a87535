"""Turns a Python exception into plain text and a location, for relive's reports.

Called by src/python.rs while the exception is still live; nothing here keeps a reference
to the exception, its traceback or its frames once `describe` returns.
"""

import traceback


def describe(exc_type, exc, tb, prefer_file):
    """Return (kind, message, file, line, column, traceback_text)."""
    kind = exc_type.__name__
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    if isinstance(exc, SyntaxError):
        message = exc.msg or ""
        return kind, message, exc.filename, exc.lineno, exc.offset, text
    message = str(exc)
    file, line = _innermost(tb, prefer_file)
    return kind, message, file, line, None, text


def _innermost(tb, prefer_file):
    frames = traceback.extract_tb(tb) if tb is not None else []
    if prefer_file is not None:
        for frame in reversed(frames):
            if frame.filename == prefer_file:
                return frame.filename, frame.lineno
    if frames:
        return frames[-1].filename, frames[-1].lineno
    return None, None
