"""What relive keeps of one script's source between reloads (issue 17): the bytes of its
`Source` (src/engine/source.py: the pieces' text, code and facts, R8's summaries and
index), not counting the code objects the script's live functions run (the program holds
those anyway) nor classes and modules. Run by benches/memory.rs inside the benchmark's
process; `retained_bytes(namespace)` answers for the one script loaded into `namespace`."""

import gc
import sys
import types


def _live_codes(namespace):
    codes = set()
    for value in list(vars(sys.modules[namespace]).values()):
        members = list(vars(value).values()) if isinstance(value, type) else [value]
        for member in members:
            member = getattr(member, "__func__", member)
            if isinstance(member, types.FunctionType):
                codes.add(id(member.__code__))
    return codes


def _size(obj, seen, skip):
    total = 0
    todo = [obj]
    while todo:
        o = todo.pop()
        if id(o) in seen or id(o) in skip or isinstance(o, (type, types.ModuleType)):
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)
        if isinstance(o, types.CodeType):
            # Not `co_code`: since 3.11 the bytecode is inside the code object (counted by
            # `getsizeof`), and reading `co_code` makes and keeps a copy of it.
            todo.extend(o.co_consts)
            todo.extend((o.co_names, o.co_varnames, o.co_linetable, o.co_exceptiontable))
        else:
            todo.extend(gc.get_referents(o))
    return total


def retained_bytes(namespace):
    sources = [o for o in gc.get_objects() if type(o).__name__ == "Source" and type(o).__module__ == "_relive_source"]
    if len(sources) != 1:
        raise RuntimeError(f"expected one script's source, found {len(sources)}")
    return _size(sources[0], set(), _live_codes(namespace))
