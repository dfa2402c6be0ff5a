#!/usr/bin/env python3
"""Times commands in turn (A B C A B C ...) so that a drift of the machine's speed hits them alike,
and prints each one's median wall time and its median difference to the first, pair by pair.

usage: paired.py RUNS 'NAME=COMMAND' 'NAME=COMMAND' ...   (commands are split as a shell splits words)
"""
import shlex
import statistics
import subprocess
import sys
import time


def once(argv):
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main():
    runs = int(sys.argv[1])
    named = [arg.split("=", 1) for arg in sys.argv[2:]]
    commands = [(name, shlex.split(cmd)) for name, cmd in named]
    for _, argv in commands:  # warm-up
        for _ in range(3):
            once(argv)
    times = {name: [] for name, _ in commands}
    for _ in range(runs):
        for name, argv in commands:
            times[name].append(once(argv))
    base = commands[0][0]
    for name, _ in commands:
        median = statistics.median(times[name]) * 1e3
        diff = statistics.median(a - b for a, b in zip(times[name], times[base])) * 1e3
        print(f"  {name:<26} {median:6.2f} ms   {diff:+6.2f} ms against {base} (median of {runs} pairs)")


if __name__ == "__main__":
    main()
