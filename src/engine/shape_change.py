"""R7 shape changes relive applies in place: enums gaining or losing members, dataclasses
gaining fields. Split out of update.py, which calls these while planning, before any change.

Both answer in plain values: a one-line reason naming the class and the change when the
change cannot be applied, else None. The apply itself is update.py's ordinary class update
(R3): the retained class's dict is brought to the candidate's, and candidate members are
translated (R4b, R6), so an enum's member tables (`_member_map_`, `_member_names_`,
`_value2member_map_`, ...) and a dataclass's generated methods and `__dataclass_fields__`
come from the candidate with its objects mapped to the retained ones.

Enum internals by version (read from each version's Lib/enum.py):
- 3.11: members live in the class dict and in `_member_map_`, `_member_names_`,
  `_value2member_map_` and `_unhashable_values_`. `value in Enum` is true only for a member
  whose name is still in `_member_map_`, so a removed member is not `in` the retained class.
- 3.12: the same tables; `_generate_next_value_` becomes a staticmethod in the class dict.
  `EnumType.__contains__` now answers True for *any* instance of the class and for values,
  so a member a reload removed is still `in` the class (it is an instance of it), while
  lookup by value or name, iteration, `len` and `__members__` follow the candidate.
  A member whose name a base already uses (a `str` mixin's `upper`) is stored in the
  class dict as an `enum.property` redirect holding the member itself (3.11 stores the
  member, or a redirect that looks it up by name); update.py's translator points the
  redirect at the retained member.
- 3.13: adds `_unhashable_values_map_` (name -> unhashable values) and `_add_member_`, and
  class dicts gain `__firstlineno__` and `__static_attributes__`; all are plain values
  copied from the candidate like any class-level value.
On every version the members keep `__objclass__` (translated to the retained class) and
`_sort_order_` (used only by `Flag` iteration; `Flag` member changes are rejected).
"""

import dataclasses
import enum
import sys

# The Python versions whose enum internals relive has read and whose CI runs the whole
# suite: exactly the list in .ci/python-versions (a unit test in update.rs checks this).
# An enum member change on any other version is rejected (R7) rather than guessed at.
TESTED_PYTHONS = ((3, 11), (3, 12), (3, 13))


def enum_problem(name, old, new):
    """Why the enum `old` cannot take the candidate `new` in place, or None (R7)."""
    old_members = old.__members__
    new_members = new.__members__
    for member_name, member in new_members.items():
        prior = old_members.get(member_name)
        if prior is not None and prior._value_ != member._value_:
            return f"enum {name}: value of {member_name} changed {prior._value_!r} -> {member._value_!r}"
    if set(old_members) == set(new_members):
        return None
    if issubclass(old, enum.Flag):
        # Flag keeps derived masks (_flag_mask_, _all_bits_, _singles_mask_) and caches
        # pseudo-members for combinations in _value2member_map_: not safely mergeable.
        return f"enum {name}: Flag members changed; restart required"
    if sys.version_info[:2] not in TESTED_PYTHONS:
        return f"enum {name}: member set changed on an untested Python version; restart required"
    if new._member_type_ is not old._member_type_:
        return f"enum {name}: mixin type changed"
    return None


def enum_member_pairs(old, new):
    """(candidate member, retained member) for every member both versions define: the
    retained member keeps its identity (R3)."""
    old_members = old.__members__
    pairs = []
    for member_name, member in new.__members__.items():
        prior = old_members.get(member_name)
        if prior is not None:
            pairs.append((member, prior))
    return pairs


def dataclass_problem(name, old, new):
    """Why the dataclass `old` cannot take the candidate `new` in place, or None (R7): a new
    field needs a class-level default, so existing instances can read it."""
    old_fields = old.__dict__.get("__dataclass_fields__", {})
    for field_name, field in new.__dict__.get("__dataclass_fields__", {}).items():
        if field_name in old_fields or field._field_type is not dataclasses._FIELD:
            continue
        if field.default is dataclasses.MISSING:
            return (
                f"dataclass {name}: new field {field_name!r} has no class-level default; "
                "existing instances could not have it"
            )
    params = new.__dict__.get("__dataclass_params__")
    if params is not None and getattr(params, "frozen", False) != getattr(
        old.__dict__.get("__dataclass_params__"), "frozen", False
    ):
        return f"dataclass {name}: frozen changed"
    return None
