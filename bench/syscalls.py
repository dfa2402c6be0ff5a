#!/usr/bin/env python3
"""Which system calls a `RUNTIME run ... /bin/true` spends its time in: reads the summary that
`perf trace -s` writes for repeated runs and prints, for the runtime's own process and for the
container's process (named `true` once it has exec'd), the system calls that took the most time,
in ms per run (their total over the runs, divided by the runs). The calls that wait on another
process (read, which here is mostly a pipe between the two, wait4, poll...) are left out.

What it showed on the bench's VM (ext4 with discard): the container's seccomp filter (sbx loads
docker's default profile; crun's bench bundle has none) costs 0.4-0.6 ms of a run in the kernel
(its 1237 BPF instructions converted and JIT-compiled at load); every file or directory sbx
creates in the container's directory costs about 0.09 ms (openat with O_CREAT, mkdir; a run makes
about ten: the directory, upper, work, container.json, spec.json, /etc's three files, the running
record) and removing them 0.4 ms, where crun keeps its state on a tmpfs (/run/crun); and in some
back-to-back runs the old root's umount2 or the loopback's ioctl waits on the kernel's teardown of
the previous run's namespaces.

usage: perf trace -s -o FILE -- ...; syscalls.py NAME RUNTIME_COMM FILE [TOP]
"""
import collections
import re
import sys

WAITING = {"read", "wait4", "waitid", "epoll_wait", "epoll_pwait", "poll", "ppoll", "select", "pselect6"}


def tables(text):
    """(comm, {syscall: total ms}) for each process of the summary."""
    comm, calls = None, {}
    for line in text.splitlines():
        head = re.match(r"\s*(\S+) \(\d+\), \d+ events", line)
        if head:
            if comm is not None:
                yield comm, calls
            comm, calls = head.group(1), {}
            continue
        row = re.match(r"\s+([a-z_0-9]+)\s+\d+\s+\d+\s+([\d.]+)\s", line)
        if row and comm is not None:
            calls[row.group(1)] = float(row.group(2))
    if comm is not None:
        yield comm, calls


def main():
    name, runtime, path = sys.argv[1:4]
    top = int(sys.argv[4]) if len(sys.argv) > 4 else 6
    with open(path) as f:
        text = f.read()
    totals = {"runtime": collections.Counter(), "container": collections.Counter()}
    runs = collections.Counter()
    for comm, calls in tables(text):
        # The runtime's own name is cut to 15 characters by the kernel, as comm is.
        who = "runtime" if comm == runtime[:15] else "container" if comm == "true" else None
        if who:
            runs[who] += 1
            totals[who].update({c: ms for c, ms in calls.items() if c not in WAITING})
    if not runs["runtime"]:
        print(f"  {name}: no runs of {runtime} in {path}")
        return
    for who, counter in totals.items():
        shown = ", ".join(f"{call} {ms / max(runs[who], 1):.2f}" for call, ms in counter.most_common(top))
        print(f"  {name}, the {who}'s process ({runs[who]} runs), ms per run: {shown}")


if __name__ == "__main__":
    main()
