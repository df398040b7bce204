#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""HTML flame graph read by a real browser (root, real BPF).

`--format html -o FILE` on tests/targets/leak_apis, then:
  - the JSON embedded in the page: per leak_apis.c line, the bytes and
    count of the tree's sites equal the @leak markers exactly;
  - headless Chromium (Debian chromium) runs the page's script
    (--dump-dom): the DOM holds every leak line's function and file:line
    (the site table), the big leaks as SVG <title>s of the flame graph,
    and the time the script took; nothing refers to the network;
  - search, click to zoom, icicle, a tooltip and reset, driven by a
    script added to a copy of the page, do what they say;
  - a screenshot (1400x900) is not blank: decoded with zlib, enough
    pixels differ from the white background and some are the warm
    colours of native frames;
  - python3.11 tests/targets/py/leaks.py: its frames flagged Python,
    marked in the site table and drawn in cool colours;
  - `memtrace report` of a saved file with two processes gives one page
    with a process picker; -p A,B writes one page with both, replaced
    whole at each report (every read is a whole page, the inode changes); a hostile function name in a saved report
    stays text in the browser (no element made of it).

Under CI=true a missing chromium is a failure, never a skip. Reuses
run.py's helpers (E2E_ONLY, E2E_BUDGET, E2E_VERBOSE as there); prints
`outputs_html: N passed, M failed`.
"""
import collections
import json
import os
import re
import shutil
import struct
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

DATA_RE = re.compile(r'<script type="application/json" id="mt-data">(.*?)</script>', re.S)
HOSTILE = "</script><img src=x onerror=alert(1)>"


def chromium(args, page, timeout=90):
    """Headless Chromium on page with args; its stdout."""
    exe = shutil.which("chromium")
    if not exe:
        run.need_tool("chromium (Debian chromium)")
    prof = tempfile.mkdtemp(prefix="chromium-", dir=run.TMP)
    r = run.run([exe, "--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--user-data-dir=" + prof,
                 "--virtual-time-budget=3000"] + args + ["file://" + page], timeout=timeout)
    shutil.rmtree(prof, ignore_errors=True)
    if r.timed_out or r.rc != 0:
        raise run.Fail("chromium %s: %s" % (" ".join(args), r.describe()))
    return r.out


def page_data(path):
    """The page's text and its embedded JSON."""
    if os.path.exists(path + ".tmp"):
        raise run.Fail("%s.tmp left behind" % os.path.basename(path))
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = DATA_RE.search(text)
    if not m:
        raise run.Fail("no embedded data in %s" % os.path.basename(path))
    return text, json.loads(m.group(1))


def sites(proc):
    """file:line -> [bytes, count, function] of the tree's nodes with their own bytes."""
    s, fr, nodes = proc["strings"], proc["frames"], proc["nodes"]
    frames, fn = [], -1
    for i in range(0, len(fr), 4):
        fn += fr[i]
        frames.append((s[fn], s[fr[i + 1]], fr[i + 2]))
    out = collections.defaultdict(lambda: [0, 0, set()])
    frame = -1
    for i in range(0, len(nodes), 4):
        frame += nodes[i]
        if frame >= 0 and nodes[i + 2]:
            name, file, line = frames[frame]
            row = out[(run.base(file), line)]
            row[0] += nodes[i + 2]
            row[1] += nodes[i + 3]
            row[2].add(name)
    return out


def check_data(data, markers):
    errs = []
    if len(data.get("processes", [])) != 1:
        return ["%d processes in the page, want 1" % len(data.get("processes", []))]
    got = sites(data["processes"][0])
    for line, (b, c) in sorted(run.expected(markers).items()):
        gb, gc, fns = got.get((run.SRC_BASE, line), [0, 0, set()])
        if (gb, gc) != (b, c):
            errs.append("%s:%d bytes/count %d/%d in the page, want %d/%d"
                        % (run.SRC_BASE, line, gb, gc, b, c))
        if b and fns != {markers[line].func}:
            errs.append("%s:%d functions %s, want %s" % (run.SRC_BASE, line, sorted(fns),
                                                         markers[line].func))
    return errs


def check_dom(page, markers):
    """Chromium ran the script: the leak lines in the DOM, big ones in the SVG."""
    dom = chromium(["--window-size=1400,900", "--dump-dom"], page)
    errs = []
    if not re.search(r'data-render-ms="[0-9.]+"', dom):
        errs.append("the script did not finish (no data-render-ms on <body>)")
    m = re.search(r"<svg\b.*?</svg>", dom, re.S)
    svg = m.group(0) if m else ""
    if not svg:
        errs.append("no <svg> in the DOM")
    titles = re.findall(r"<title>(.*?)</title>", svg, re.S)
    texts = re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S)
    total = sum(mk.bytes for mk in markers.values())
    for line, mk in sorted(markers.items()):
        if not mk.bytes:
            continue
        where = "%s:%d" % (run.SRC_BASE, line)
        if not re.search(r"<td>%s</td><td>[^<]*%s</td>" % (re.escape(mk.func), re.escape(where)),
                         dom):
            errs.append("the DOM has no site row %s %s" % (mk.func, where))
        # wider than a few pixels of the 1400: drawn as a frame with its title
        if mk.bytes * 1350 >= 5 * total and not any(
                t.startswith(mk.func + " ") and where in t for t in titles):
            errs.append("no SVG <title> for %s at %s (%d bytes)" % (mk.func, where, mk.bytes))
    if not any(t.startswith("big_leaks (leak_apis.c:236") for t in texts):
        errs.append("no SVG <text> 'big_leaks (leak_apis.c:236)'")
    if re.search(r"(src|href)=\"(https?:)?//", dom):
        errs.append("the page refers to the network")
    return errs


# Run after the page's script in a copy of the page: search, zoom, icicle,
# a tooltip and reset, as a user would; the results on <body data-check>.
INTERACT = """<script>
(function () {
  const $ = (id) => document.getElementById(id), out = {};
  const frame = (p) => [...document.querySelectorAll('#mt-graph g')]
    .find((g) => g.querySelector('title').textContent.startsWith(p));
  $('mt-search').value = 'big_leaks';
  $('mt-search').dispatchEvent(new Event('input'));
  out.match = $('mt-match').textContent;
  out.hits = document.querySelectorAll('#mt-graph rect[fill="#d040d0"]').length;
  const caller = frame('run_all (leak_apis.c:325)');
  caller.dispatchEvent(new MouseEvent('click'));
  out.zoomed = [...document.querySelectorAll('#mt-graph g')]
    .filter((g) => g.querySelector('title').textContent.startsWith('big_leaks ('))
    .map((g) => Number(g.querySelector('rect').getAttribute('width')));
  const rootY = () => Number(frame('all ').querySelector('rect').getAttribute('y'));
  out.flameY = rootY();
  $('mt-icicle').click();
  out.icicleY = rootY();
  frame('big_leaks (leak_apis.c:236)').dispatchEvent(new MouseEvent('mousemove', {clientX: 50, clientY: 50}));
  out.tip = $('mt-tip').textContent;
  $('mt-reset').click();
  out.reset = frame('all ') !== undefined && frame('run_all (leak_apis.c:320)') !== undefined;
  document.body.setAttribute('data-check', JSON.stringify(out));
})();
</script>"""


def check_interactive(page):
    """Search, click to zoom, icicle, tooltip and reset do what they say."""
    with open(page) as f:
        text = f.read()
    copy = os.path.join(run.TMP, "interact.html")
    with open(copy, "w") as f:
        f.write(text.replace("</body>", INTERACT + "</body>"))
    dom = chromium(["--window-size=1400,900", "--dump-dom"], copy)
    m = re.search(r'data-check="([^"]*)"', dom)
    if not m:
        return ["the interaction script did not finish"]
    out = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    run.vlog("interaction: %s" % out)
    errs = []
    if not re.match(r"matched 1\.5 MiB \(\d+\.\d+%\)$", out.get("match", "")):
        errs.append("search 'big_leaks' shows %r, want 1.5 MiB matched" % out.get("match"))
    if out.get("hits") != 2:
        errs.append("search highlights %s frames, want the 2 big_leaks lines" % out.get("hits"))
    w = sorted(out.get("zoomed") or [])
    if len(w) != 2 or sum(w) < 1300 or abs(w[1] / max(w[0], 1) - 2) > 0.05:
        errs.append("zoomed into run_all:325, big_leaks widths %s, want the whole width 2:1" % w)
    if out.get("icicleY") != 0 or not out.get("flameY", 0) > 0:
        errs.append("the root's y %s (flame), %s (icicle): want at the bottom, then the top"
                    % (out.get("flameY"), out.get("icicleY")))
    tip = out.get("tip", "")
    for want in ("big_leaks", "leak_apis.c:236", "module leak_apis", "bytes 1048576",
                 "count 1"):
        if want not in tip:
            errs.append("tooltip %r lacks %r" % (tip, want))
    if not out.get("reset"):
        errs.append("reset zoom did not bring back the whole graph")
    return errs


def png_pixels(path):
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA PNG, with zlib only."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise run.Fail("screenshot is not a PNG")
    pos, idat, w = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype not in (2, 6) or body[12]:
                raise run.Fail("screenshot PNG: depth %d colour type %d interlace %d"
                               % (depth, ctype, body[12]))
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ft == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xff
        elif ft == 2:
            line = bytearray((a + b) & 0xff for a, b in zip(line, prev))
        elif ft == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xff
        elif ft == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pr) & 0xff
        rows.append(line)
        prev = line
    return w, h, bpp, rows


def check_screenshot(page, want="warm"):
    png = os.path.join(run.TMP, "shot.png")
    chromium(["--window-size=1400,900", "--screenshot=" + png], page)
    w, h, bpp, rows = png_pixels(png)
    errs = []
    if (w, h) != (1400, 900):
        errs.append("screenshot %dx%d, want 1400x900" % (w, h))
    ink = warm = cool = 0
    for line in rows:
        for i in range(0, len(line), bpp):
            r, g, b = line[i], line[i + 1], line[i + 2]
            if r < 245 or g < 245 or b < 245:
                ink += 1
            if r > 200 and 90 < g < 225 and b < 140:
                warm += 1  # native frames
            elif b > 180 and r < 140:
                cool += 1  # Python frames
    run.vlog("screenshot: %d pixels not background, %d warm, %d cool, of %d"
             % (ink, warm, cool, w * h))
    if ink < w * h // 50:
        errs.append("screenshot nearly blank: %d of %d pixels not background" % (ink, w * h))
    n = warm if want == "warm" else cool
    if n < w * h // 100:
        errs.append("screenshot has %d %s (%s frame) pixels, want a flame graph"
                    % (n, want, "native" if want == "warm" else "Python"))
    return errs


def t_exact(markers, funcs):
    """`--` mode: the page's data equals the markers; Chromium draws it; not blank."""
    out = os.path.join(run.TMP, "leak.html")
    r = run.memtrace_dashdash(["--format", "html", "--top", "0"], out)
    if r.timed_out or r.rc != 0:
        raise run.Fail("memtrace --format html -- leak_apis: %s" % r.describe())
    text, data = page_data(out)
    errs = check_data(data, markers)
    if len(text) > 1 << 20:
        errs.append("page of %d bytes for one small program" % len(text))
    errs += check_dom(out, markers)
    errs += check_interactive(out)
    errs += check_screenshot(out)
    if run.VERBOSE:
        shutil.copy(os.path.join(run.TMP, "shot.png"), os.path.join(run.ROOT, ".output",
                                                                    "html-e2e.png"))
    return errs


def saved(name):
    """A saved JSON report of one leak_apis run."""
    path = os.path.join(run.TMP, name)
    run.final_report(run.require_clean_run(
        run.memtrace_dashdash(["--format", "json", "--top", "0"], path), path))
    return path


def t_from_saved(markers, funcs):
    """`memtrace report` of two processes' saved reports: one page, both, a picker."""
    a, b = saved("a.json"), saved("b.json")
    both = os.path.join(run.TMP, "both.json")
    with open(both, "w") as f:
        for p in (a, b):
            with open(p) as g:
                f.write(g.read())
    out = os.path.join(run.TMP, "both.html")
    r = run.run([run.MEMTRACE, "report", both, "--format", "html", "-o", out])
    if r.timed_out or r.rc != 0:
        return ["memtrace report --format html: %s" % r.describe()]
    _, data = page_data(out)
    procs = data.get("processes", [])
    errs = []
    if len(procs) != 2 or procs[0]["pid"] == procs[1]["pid"]:
        return ["%d processes in the page, want 2 (pids %s)"
                % (len(procs), [p.get("pid") for p in procs])]
    for p in procs:
        errs += ["pid %d: %s" % (p["pid"], e)
                 for e in check_data({"processes": [p]}, markers)]
    dom = chromium(["--window-size=1400,900", "--dump-dom"], out)
    m = re.search(r'<select id="mt-proc"([^>]*)>(.*?)</select>', dom, re.S)
    if not m or "hidden" in m.group(1) or m.group(2).count("<option") != 2:
        errs.append("no visible process picker with 2 entries: %.200r"
                    % (m.group(0) if m else None))
    return errs


def page_error(data):
    if not data.startswith(b"<!DOCTYPE html>") or not data.endswith(b"</html>\n"):
        return "no doctype or no </html> at the end"
    return None


def t_pid_two(markers, funcs):
    """-p A,B, reports every 0.2 s: every read is a whole page; the last has both, exact."""
    out = os.path.join(run.TMP, "two.html")
    a, b = run.Target(), run.Target()
    mt = run.Memtrace(["--format", "html", "--top", "0", "--interval", "0.2", "-p",
                       "%d,%d" % (a.pid, b.pid), "-o", out])
    errs = []
    try:
        mt.wait_attached(a.pid)
        mt.wait_attached(b.pid)
        a.start_work()
        b.start_work()
        errs += run.watch_replaced(out, page_error, "page")
        a.finish()
        b.finish()
        rc = mt.wait_exit(5)
        if rc != 0:
            errs.append("memtrace %s after the targets exited, want exit 0"
                        % ("still running" if rc is None else "exited %s" % rc))
    finally:
        mt.stop()
    _, data = page_data(out)
    procs = data.get("processes", [])
    if sorted(p.get("pid") for p in procs) != sorted((a.pid, b.pid)):
        return errs + ["pids %s in the page, want %d and %d"
                       % ([p.get("pid") for p in procs], a.pid, b.pid)]
    for p in procs:
        if not p.get("final"):
            errs.append("pid %d: the page has report #%s, not the final one"
                        % (p["pid"], p.get("seq")))
        errs += ["pid %d: %s" % (p["pid"], e) for e in check_data({"processes": [p]}, markers)]
    return errs


def t_hostile(markers, funcs):
    """A function named like markup stays text in the browser."""
    src = saved("h.json")
    with open(src) as f:
        text = f.read()
    # "big_leaks" as the saved JSON writes it, replaced by an escaped hostile name
    evil = json.dumps(HOSTILE)[1:-1]
    if '"big_leaks"' not in text:
        return ["saved report has no \"big_leaks\""]
    dst = os.path.join(run.TMP, "h2.json")
    with open(dst, "w") as f:
        f.write(text.replace('"big_leaks"', '"%s"' % evil))
    out = os.path.join(run.TMP, "hostile.html")
    r = run.run([run.MEMTRACE, "report", dst, "--format", "html", "-o", out])
    if r.timed_out or r.rc != 0:
        return ["memtrace report --format html: %s" % r.describe()]
    with open(out) as f:
        page = f.read()
    errs = []
    if page.lower().count("</script") != 2 or "<img" in page:
        errs.append("the name is markup in the page file")
    dom = chromium(["--window-size=1400,900", "--dump-dom"], out)
    if "<img" in dom:
        errs.append("the browser made an <img> element of a name")
    if "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" not in dom:
        errs.append("the hostile name is not shown as text")
    if not re.search(r'data-render-ms="[0-9.]+"', dom):
        errs.append("the script did not finish")
    return errs


def t_python(markers, funcs):
    """Python frames: flagged in the data, marked in the DOM, coloured apart."""
    out = os.path.join(run.TMP, "py.html")
    run.record_python_leaks("html", out)
    _, data = page_data(out)
    p = data["processes"][0]
    s, fr = p["strings"], p["frames"]
    lines, fn = set(), -1
    for i in range(0, len(fr), 4):
        fn += fr[i]
        if run.base(s[fr[i + 1]]) == "leaks.py" and fr[i + 3] & 1:
            lines.add(fr[i + 2])
    errs = []
    if len(lines) < 3:
        errs.append("fewer than 3 leaks.py lines as Python frames: %s" % sorted(lines))
    dom = chromium(["--window-size=1400,900", "--dump-dom"], out)
    if not re.search(r"<td>[^<]* \[py\]</td><td>[^<]*leaks\.py:\d+</td>", dom):
        errs.append("no site row of a Python frame (function [py], leaks.py:N) in the DOM")
    return errs + check_screenshot(out, want="cool")


def t_needs_file(markers, funcs):
    """--format html without -o: a usage error naming -o; nothing runs."""
    return run.needs_file_errors("html")


CASES = (("html-exact", t_exact), ("html-from-saved", t_from_saved), ("html-pid-two", t_pid_two),
         ("html-hostile", t_hostile), ("html-python", t_python),
         ("html-needs-file", t_needs_file))


def main():
    return run.run_cases("outputs_html", CASES)


if __name__ == "__main__":
    sys.exit(main())
