#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Write golden line-table fixtures for tests/unit/test_py_linetable.c.

Run with each interpreter to cover (3.10+):

    ~/.pyenv/versions/3.12.1/bin/python tests/unit/gen_linetable_fixtures.py

Writes tests/unit/fixtures/linetable-<major>.<minor>.<micro>.txt (or the
path given as the only argument). The first line is

    # python <version> <hex PY_VERSION_HEX> <sys.executable>

then one line per code object:

    <co_firstlineno> <co_linetable as hex> <offset>:<line> <offset>:<line> ...

where the pairs come from code.co_lines(): for each (start, end, line)
range its start and, if the range is longer than one instruction, end - 2;
line "-" means None (no line). The last pair is the end of the bytecode,
which no range covers ("-"). Code objects come from a synthetic module
(long gaps, long bodies, multi-line expressions, artificial instructions)
and from a few stdlib modules, sampled with a fixed seed so the file stays
below ~280 KB and is reproducible for a given interpreter.
"""
import os
import random
import sys

BUDGET = 280_000  # bytes per fixture file
MAX_LINE = 16_000  # longest fixture line kept (big code objects)
STDLIB = [
    "os.py", "json/decoder.py", "json/encoder.py", "ast.py", "typing.py",
    "argparse.py", "dataclasses.py", "collections/__init__.py",
    "asyncio/base_events.py", "_pydecimal.py", "inspect.py", "textwrap.py",
]


def synthetic():
    """Source exercising the awkward corners of both formats."""
    parts = ["import sys\n", "def gap():\n    a = 1\n"]
    parts.append("\n" * 300)  # line delta > 127 (3.10 splits it)
    parts.append("    return a\n\n")
    # a long straight body (3.10: address deltas > 254 are split)
    parts.append("def long_body(x):\n    y = (" + " + ".join(["x"] * 400) + ")\n    return y\n\n")
    # jumping backwards: loops, try/finally (duplicated finally bodies)
    parts.append(
        "def loops(n):\n"
        "    t = 0\n"
        "    for i in range(n):\n"
        "        while i:\n"
        "            i -= 1\n"
        "            t += i\n"
        "    try:\n"
        "        t = 1 / t\n"
        "    except ZeroDivisionError:\n"
        "        t = None\n"
        "    finally:\n"
        "        t = (t,\n"
        "             n)\n"
        "    return t\n\n")
    # multi-line expressions (3.11+ long form), nested scopes
    parts.append(
        "def multi(a,\n"
        "          b):\n"
        "    return [x\n"
        "            for x in range(a)\n"
        "            if x %\n"
        "               b]\n\n"
        "class K:\n"
        "    f = lambda self: (yield\n"
        "                      1)\n"
        "    async def co(self):\n"
        "        async with self as s:\n"
        "            await s\n\n")
    # a code object whose first line is far down
    parts.append("\n" * 5000 + "def far():\n    return sys.argv[\n        0]\n")
    return "".join(parts)


def code_objects(code):
    yield code
    for c in code.co_consts:
        if hasattr(c, "co_lines"):
            yield from code_objects(c)


def fixture_line(code):
    pairs = []
    for start, end, line in code.co_lines():
        txt = "-" if line is None else str(line)
        pairs.append("%d:%s" % (start, txt))
        if end - start > 2:
            pairs.append("%d:%s" % (end - 2, txt))
    pairs.append("%d:-" % len(code.co_code))
    return "%d %s %s\n" % (code.co_firstlineno, code.co_linetable.hex(), " ".join(pairs))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    v = sys.version_info
    out = (sys.argv[1] if len(sys.argv) > 1 else
           os.path.join(here, "fixtures", "linetable-%d.%d.%d.txt" % (v[0], v[1], v[2])))
    stdlib = os.path.dirname(os.__file__)

    first = [fixture_line(c) for c in code_objects(compile(synthetic(), "<synthetic>", "exec"))]
    rest = []
    for rel in STDLIB:
        path = os.path.join(stdlib, rel)
        with open(path, "rb") as f:
            src = f.read()
        rest += [fixture_line(c) for c in code_objects(compile(src, path, "exec"))]
    random.Random(1).shuffle(rest)

    lines = ["# python %d.%d.%d 0x%08x %s\n" % (v[0], v[1], v[2], sys.hexversion, sys.executable)]
    size = len(lines[0])
    for ln in first + rest:
        if len(ln) > MAX_LINE or size + len(ln) > BUDGET:
            continue
        lines.append(ln)
        size += len(ln)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.writelines(lines)
    print("%s: %d code objects, %d bytes" % (out, len(lines) - 1, size))


if __name__ == "__main__":
    main()
