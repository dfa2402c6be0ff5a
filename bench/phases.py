#!/usr/bin/env python3
"""Where the time of one `RUNTIME run ... /bin/true` goes: reads `perf script` output of the
sched_process_exec/fork/exit and sched_wakeup events of repeated runs and prints, per phase, the
median over the runs:

  start -> fork       the runtime's own work before its first fork (process start, state, cgroups)
  fork -> exec        the container's setup (namespaces, mounts, capabilities, seccomp)
  exec -> exit        /bin/true itself (and the seccomp filter it runs under)
  exit -> woken       the kernel tearing the container's namespaces down (the overlay unmounted)
  woken -> end        the runtime's cleanup (cgroups, the container's directory) and its exit

usage: phases.py NAME RUNTIME_PATH 'CMD'    (records 30 runs of the shell command CMD with perf)
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile

PHASES = [("fork", "start -> fork"), ("exec", "fork -> exec"), ("exit", "exec -> exit"),
          ("woken", "exit -> woken"), ("end", "woken -> end")]
EVENTS = "sched:sched_wakeup,sched:sched_process_exec,sched:sched_process_fork,sched:sched_process_exit"
RUNS = 30


def runs(lines, runtime):
    run = None
    for line in lines:
        m = re.match(r"\s*(\S+)\s+(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)", line)
        if not m:
            continue
        comm, pid, t, event, rest = m.groups()
        t = float(t) * 1000
        if event == "sched:sched_process_exec" and f"filename={runtime} " in rest + " ":
            run = {"start": t, "pid": pid}
            yield run
        elif run is None:
            continue
        elif event == "sched:sched_process_fork" and pid == run["pid"]:
            run.setdefault("fork", t)
        elif event == "sched:sched_process_exec" and "filename=/bin/true" in rest:
            run["exec"] = t
        elif event == "sched:sched_process_exit" and comm == "true":
            run["exit"] = t
        elif event == "sched:sched_wakeup" and f"pid={run['pid']} " in rest and "exit" in run:
            run.setdefault("woken", t)
        elif event == "sched:sched_process_exit" and pid == run["pid"]:
            run["end"] = t


def record(cmd):
    """The scheduler's events, system-wide, while CMD runs RUNS times: `perf script`'s lines."""
    with tempfile.TemporaryDirectory() as work:
        data = os.path.join(work, "perf.data")
        loop = f"for i in $(seq {RUNS}); do {cmd}; done"
        subprocess.run(["perf", "record", "-q", "-e", EVENTS, "-a", "-o", data, "--", "sh", "-c", loop],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        script = subprocess.run(["perf", "script", "-i", data, "-F", "comm,pid,time,event,trace"],
                                capture_output=True, text=True, check=False)
        return script.stdout.splitlines()


def main():
    name, runtime, cmd = sys.argv[1:4]
    whole = [r for r in list(runs(record(cmd), runtime)) if all(k in r for k, _ in PHASES)]
    if not whole:
        print(f"  {name}: no complete run in the trace")
        return
    parts = []
    for key, label in PHASES:
        before = [k for k, _ in PHASES].index(key)
        prev = "start" if before == 0 else PHASES[before - 1][0]
        parts.append(f"{label} {statistics.median(r[key] - r[prev] for r in whole):.2f}")
    total = statistics.median(r["end"] - r["start"] for r in whole)
    print(f"  {name} ({len(whole)} runs, ms): " + ", ".join(parts) + f"; whole {total:.2f}")


if __name__ == "__main__":
    main()
