#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Headers point one way: check which layer of user/ includes which.

Each folder of user/ is a layer and may include only the layers listed for
it below (and include/, system headers). The rule of the README's layout
section, enforced: report/, output/ and symbolize/ never include kernel/ or
session/; kernel/ never includes report/, output/ or session/; only
session/ (and main.c) put the layers together.
Prints one line per include that breaks the rule; exit 1 if any.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALLOWED = {
    "lib": set(),
    "proc": {"lib"},
    "python": {"proc", "lib"},
    "probe": {"proc", "lib"},
    "symbolize": {"python", "proc", "lib"},
    "report": {"symbolize", "lib"},
    "output": {"report", "symbolize", "lib"},
    "kernel": {"probe", "proc", "lib"},
    "session": {"top", "kernel", "probe", "proc", "python", "symbolize", "report", "output",
                "lib"},
    "daemon": {"top", "session", "report", "output", "symbolize", "proc", "lib"},
    "top": {"daemon", "session", "kernel", "probe", "proc", "python", "symbolize", "report", "output",
            "lib"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(rel):
    return rel.split("/")[0] if "/" in rel else "top"


def main():
    user = os.path.join(ROOT, "user")
    bad = []
    for d, _, files in os.walk(user):
        for f in sorted(files):
            if not f.endswith((".c", ".h")):
                continue
            rel = os.path.relpath(os.path.join(d, f), user)
            me = layer_of(rel)
            with open(os.path.join(d, f)) as fh:
                for n, line in enumerate(fh, 1):
                    m = INCLUDE.match(line)
                    # generated into .output/: the skeleton, embedded files (*.gen.h)
                    if not m or m.group(1).endswith((".skel.h", ".gen.h")):
                        continue
                    inc = m.group(1)
                    if os.path.exists(os.path.join(ROOT, "include", inc)):
                        continue
                    if not os.path.exists(os.path.join(user, inc)):
                        bad.append("user/%s:%d: includes %s, which is not a path under user/"
                                   % (rel, n, inc))
                        continue
                    them = layer_of(inc)
                    if them != me and them not in ALLOWED[me]:
                        bad.append("user/%s:%d: %s/ includes %s (%s/ may include: %s)" % (
                            rel, n, me, inc, me, ", ".join(sorted(ALLOWED[me])) or "nothing"))
    for b in bad:
        print(b)
    print("layers: %d includes against the rule" % len(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
