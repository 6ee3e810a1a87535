"""Report objects: relive's reports with attributes, `str()` and `to_dict()`.

The native module hands each report over as two renderings made by the same Rust value:
the text relive prints and its JSON document (`relive check --format json`). Attributes
come from the JSON, `str()` is the text; nothing is parsed out of the text.
"""

import copy
import json


class Record:
    """Structured data from relive: every JSON field is an attribute.

    Nested objects are records too, lists are lists; `to_dict()` gives the plain data.
    """

    __slots__ = ("_data",)

    def __init__(self, data):
        object.__setattr__(self, "_data", data)

    def __getattr__(self, name):
        try:
            return _wrap(self._data[name])
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}") from None

    def __setattr__(self, name, value):
        raise AttributeError("relive records are read-only")

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._data))

    def __eq__(self, other):
        return isinstance(other, Record) and self._data == other._data

    __hash__ = None

    def to_dict(self):
        """The record as plain dicts, lists, strings and numbers (a copy)."""
        return copy.deepcopy(self._data)

    def __repr__(self):
        return f"<relive.{type(self).__name__} {json.dumps(self._data)[:120]}>"


class Report(Record):
    """A load, reload or remove report: `str()` prints it as relive does."""

    __slots__ = ("_text",)

    def __init__(self, text, data):
        super().__init__(data)
        object.__setattr__(self, "_text", text)

    @classmethod
    def _from_native(cls, rendered):
        text, document = rendered
        return cls(text, json.loads(document))

    def __str__(self):
        return self._text

    def __repr__(self):
        first = self._text.splitlines()[0] if self._text else ""
        return f"<relive.Report {first}>"


def _wrap(value):
    if isinstance(value, dict):
        return Record(value)
    if isinstance(value, list):
        return [_wrap(item) for item in value]
    return value
