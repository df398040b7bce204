# Two leaks for the README: sudo ./memtrace -- python3 tests/demo/leak.py
import time

keep = []


def leak_bytes():
    for i in range(100):
        keep.append(bytearray(10000))  # 100 x 10000 bytes, never freed


def leak_more():
    keep.append(b"x" * 500000)  # 500000 bytes, never freed


leak_bytes()
leak_more()
time.sleep(0.2)
