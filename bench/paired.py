#!/usr/bin/env python3
"""Times commands in turn (A B C A B C ...) so that a drift of the machine's speed hits them alike,
and prints each one's median wall time and its median difference to the first, pair by pair.

usage: paired.py RUNS 'NAME=COMMAND' 'NAME=COMMAND' ...   (commands are split as a shell splits words)

A command may start with VAR=VALUE words, as in a shell: they are set in its environment, without
the exec of env(1) that `env VAR=VALUE COMMAND` would add to its time (1.4 ms on the 2-core VM).
"""
import os
import re
import shlex
import statistics
import subprocess
import sys
import time


def once(command):
    argv, env = command
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def parse(cmd):
    """The argv of `cmd` and its environment: this one's with its leading VAR=VALUE words."""
    words = shlex.split(cmd)
    env = dict(os.environ)
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return words, env


def main():
    runs = int(sys.argv[1])
    named = [arg.split("=", 1) for arg in sys.argv[2:]]
    commands = [(name, parse(cmd)) for name, cmd in named]
    for _, command in commands:  # warm-up
        for _ in range(3):
            once(command)
    times = {name: [] for name, _ in commands}
    for _ in range(runs):
        for name, command in commands:
            times[name].append(once(command))
    base = commands[0][0]
    for name, _ in commands:
        median = statistics.median(times[name]) * 1e3
        diff = statistics.median(a - b for a, b in zip(times[name], times[base])) * 1e3
        print(f"  {name:<26} {median:6.2f} ms   {diff:+6.2f} ms against {base} (median of {runs} pairs)")


if __name__ == "__main__":
    main()
