"""Turns a Python exception into plain text and a location, for relive's reports.

Called by src/python.rs while the exception is still live; nothing here keeps a reference
to the exception, its traceback or its frames once `describe` returns. Tracebacks leave out
relive's own frames (its embedded helpers, modules named `_relive_*`): a user reads the
frames of their scripts and tests, as pytest shows them.
"""

import traceback
import types

_RELIVE_PREFIX = "_relive_"


def describe(exc_type, exc, tb, prefer_file):
    """Return (kind, message, file, line, column, traceback_text)."""
    kind = exc_type.__name__
    text = format_exception(exc_type, exc, tb)
    if isinstance(exc, SyntaxError):
        message = exc.msg or ""
        return kind, message, exc.filename, exc.lineno, exc.offset, text
    message = str(exc)
    file, line = _innermost(tb, prefer_file)
    return kind, message, file, line, None, text


def format_exception(exc_type, exc, tb):
    """The traceback as Python prints it, without relive's frames. A syntax error found
    while compiling shows only the error and its location (its frames are the compiler's)."""
    if isinstance(exc, SyntaxError) and _compiling(exc, tb):
        return "".join(traceback.format_exception_only(exc_type, exc))
    hide_relive_frames(exc)
    return "".join(traceback.format_exception(exc_type, exc, user_frames(tb)))


def hide_relive_frames(exc):
    """Drop relive's frames from `exc` and the exceptions chained to it, in place."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc.__traceback__ = user_frames(exc.__traceback__)
        for chained in (exc.__cause__, exc.__context__):
            if chained is not None and id(chained) not in seen:
                chained.__traceback__ = user_frames(chained.__traceback__)
        exc = exc.__cause__ or exc.__context__


def user_frames(tb):
    """A copy of the traceback chain `tb` without the frames of relive's helpers."""
    kept = []
    while tb is not None:
        if not is_relive_frame(tb.tb_frame):
            kept.append(tb)
        tb = tb.tb_next
    chain = None
    for entry in reversed(kept):
        chain = types.TracebackType(chain, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return chain


def is_relive_frame(frame):
    """Whether `frame` runs code of one of relive's embedded helpers."""
    name = frame.f_globals.get("__name__")
    return isinstance(name, str) and name.startswith(_RELIVE_PREFIX)


def _compiling(exc, tb):
    """A syntax error raised by the compiler, not by a script's own code (an `exec` in it)."""
    if exc.filename is None:
        return False
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == exc.filename:
            return False
        tb = tb.tb_next
    return True


def _innermost(tb, prefer_file):
    frames = traceback.extract_tb(tb) if tb is not None else []
    if prefer_file is not None:
        for frame in reversed(frames):
            if frame.filename == prefer_file:
                return frame.filename, frame.lineno
    if frames:
        return frames[-1].filename, frames[-1].lineno
    return None, None
