#!/usr/bin/env python3
"""Writes host/link-order.txt: the functions `sbx run --rm` executes, in the order the linker is to
put them at the start of sbx's text (host/link-ordered.sh hands it to lld). Called from the
repository's root by bench/link-order.sh, which prepares the image and plugins the runs use.

usage: link_order.py RUNS_SCRIPT
`RUNS_SCRIPT BINARY N KIND` runs `sbx run --rm` N times per case of KIND: `none` (no plugin),
`five` (five Rust policies) or `others` (Python and JavaScript policies, hooks, the decision cache).

Each function is given by its name without rustc's hashes and its size (host/link-ordered.sh says
why). The list is found in four passes:
1. perf samples the runs at 40 kHz. Every function of sbx that is sampled goes in the list: those of
   `none` first, then those of `five`, then those of `others`, each group by its number of samples.
2. sbx is linked with that list and the runs are traced for page faults in its text. The function at
   each fault past the listed ones joins the list: sampling misses functions that run for less than
   a sample's period, and they show as faults once the functions around them have moved away.
3. and 4. Step 2 again: in each pass, only the first function run in each window faults.
"""
import bisect
import collections
import re
import shutil
import subprocess
import sys
import tempfile

ORDER = "host/link-order.txt"
HEADER = """\
# Written by bench/link-order.sh: the functions `sbx run --rm` executes (names without rustc's
# hashes, sizes in hex), in the order lld is to put them at the start of sbx's text
# (host/link-ordered.sh). Functions the binary no longer has are skipped; run bench/link-order.sh
# again when much of the code has changed.
"""
KINDS = ("none", "five", "others")


def key(name, size):
    """A function as host/link-ordered.sh matches it: its name without rustc's hashes, its size."""
    return f"{re.sub(r'17h[0-9a-f]+E$', '', re.sub(r'[.]llvm[.][0-9]+$', '', name))} {size:x}"


def record(runs_script, binary, kind, runs, events, out):
    subprocess.run(["perf", "record", "-q", "-o", out, *events, "--", runs_script, binary, str(runs), kind],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def perf_script(data, fields):
    out = subprocess.run(["perf", "script", "-i", data, "--no-demangle", "-F", fields],
                         check=True, capture_output=True, text=True).stdout
    return out.splitlines()


class Functions:
    """The functions of a binary, by address, for finding the one at an address."""

    def __init__(self, binary):
        out = subprocess.run(["nm", "-n", "-S", binary], check=True, capture_output=True, text=True).stdout
        words = (line.split() for line in out.splitlines())
        self.functions = [(int(w[0], 16), key(w[3], int(w[1], 16))) for w in words if len(w) == 4 and w[2] in "tTwW"]
        self.starts = [a for a, _ in self.functions]

    def at(self, address):
        i = bisect.bisect_right(self.starts, address) - 1
        return self.functions[i][1] if i >= 0 else None


def sampled(runs_script, binary, work):
    """sbx's sampled functions: those of `none`, then `five`, then `others`, most sampled first."""
    functions = Functions(binary)
    names = []
    for kind in KINDS:
        record(runs_script, binary, kind, 100 if kind == "others" else 300, ["-F", "40000", "-e", "cpu-clock"], f"{work}/samples.data")
        counts = collections.Counter()
        for line in perf_script(f"{work}/samples.data", "ip,dso"):
            words = line.split()
            if len(words) == 2 and words[1] == f"({binary})":
                counts[functions.at(int(words[0], 16))] += 1
        names += [n for n, _ in counts.most_common() if n and n not in names]
    return names


def text_end(binary):
    """Where `binary`'s executable segment ends."""
    out = subprocess.run(["readelf", "-lW", binary], check=True, capture_output=True, text=True).stdout
    for w in (line.split() for line in out.splitlines()):
        if w and w[0] == "LOAD" and w[6:7] == ["R"] and w[7:8] == ["E"]:
            return int(w[2], 16) + int(w[5], 16)
    sys.exit(f"link_order.py: {binary} has no executable segment")


def faulted(runs_script, binary, work, listed):
    """Functions at page faults in `binary`'s text past the last listed one, most faulted first."""
    functions = Functions(binary)
    end = text_end(binary)
    # The listed functions the linker placed (a few, such as _init, live in sections of their own).
    placed = sorted(a for a, k in functions.functions if k in listed)
    listed_end = placed[len(placed) * 99 // 100]
    found = collections.Counter()
    for kind in KINDS:
        record(runs_script, binary, kind, 10, ["-e", "exceptions:page_fault_user"], f"{work}/faults.data")
        for line in perf_script(f"{work}/faults.data", "comm,trace"):
            m = re.search(r"address=0x([0-9a-f]+)", line)
            address = int(m.group(1), 16) if m and line.split()[0] == "sbx" else 0
            if listed_end + 4096 < address < end:
                found[functions.at(address)] += 1
    return [n for n, _ in found.most_common() if n not in listed]


def write(names):
    with open(ORDER, "w") as f:
        f.write(HEADER)
        f.writelines(n + "\n" for n in names)


def build(work):
    """sbx linked with the current host/link-order.txt, as a fresh copy (see bench/run.sh)."""
    # As examples/setup.sh builds it: cargo unifies the crates' features per build, and the code of a
    # generic function, so its size, may change with them.
    subprocess.run(["cargo", "build", "--release", "-p", "sbx", "-p", "sbx-tests", "--bins"], check=True)
    shutil.copy("target/release/sbx", f"{work}/sbx")
    return f"{work}/sbx"


def main():
    runs_script = sys.argv[1]
    with tempfile.TemporaryDirectory() as work:
        names = sampled(runs_script, build(work), work)
        print(f"link_order.py: {len(names)} functions sampled", flush=True)
        for _ in range(3):
            write(names)
            found = faulted(runs_script, build(work), work, set(names))
            print(f"link_order.py: {len(found)} more at page faults", flush=True)
            names += found
        write(names)
        build(work)
    print(f"{ORDER}: {len(names)} functions")


if __name__ == "__main__":
    main()
