# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""imports.py: import-time allocations and the line that imported, for
tests/e2e/python.py (case imports).

It writes a module whose source holds a 300000-character string literal
into a fresh directory and imports it at the line marked `# @import`.
Python creates that string while loading the module (compiling the source
or unmarshalling its .pyc), inside the import machinery's own frames
(<frozen importlib._bootstrap_external>); the module keeps it. memtrace
must report it at the import line, the innermost frame outside the import
machinery. Prints "import-bytes N", N = sys.getsizeof of the string (one
libc block: more than 512 bytes).
"""
import os
import sys
import tempfile

N = 300000


def main():
    d = tempfile.mkdtemp(prefix="mt-imports-")
    with open(os.path.join(d, "mt_imported_big.py"), "w") as f:
        f.write("BIG = '%s'\n" % ("x" * N))
    sys.path.insert(0, d)
    import mt_imported_big  # @import
    print("import-bytes %d" % sys.getsizeof(mt_imported_big.BIG), flush=True)


if __name__ == "__main__":
    main()
