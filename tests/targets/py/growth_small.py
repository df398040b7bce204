# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""growth.py's Python target: small objects (pymalloc) kept at one line, churned at another.

Each round keeps 20,000 small tuples at the marked line (pymalloc pools and
arenas grow: the pages are first written by the line that needed them) and
makes and drops 200 buffers of 2000 bytes at the churn line (C heap blocks,
reused round after round). A churn of small objects would not do: pools it
empties are taken by the next round's kept tuples, so its next round needs
new pages again (README "Growth profiling").
"""
import sys
import time

keep = []


def grow(n):
    for i in range(n):
        keep.append((i, i + 1.5))  # @growth


def churn(n):
    tmp = [bytes(2000) for i in range(n // 100)]  # @churn
    del tmp


for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 10):
    grow(20000)
    churn(20000)
    time.sleep(0.2)
