"""What the machine is and how busy it was, so that a reader can judge the figures.

Wall-clock figures suffer when other programs share the cores; CPU time does not.
The CPU figures come from Linux's /proc and are left out elsewhere.
"""

import os
import platform
from pathlib import Path

PROC = Path("/proc")


def describe() -> dict:
    model = ""
    if (PROC / "cpuinfo").exists():
        lines = (PROC / "cpuinfo").read_text().splitlines()
        names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
        model = names[0] if names else ""
    return {
        "cores": os.cpu_count(),
        "cpu": model or platform.processor(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def tree_stats(root: int) -> dict[int, list[str]] | None:
    """The fields of /proc/<pid>/stat (after the command's name) of a running process and
    of all its descendants, by process id."""
    if not PROC.is_dir():
        return None
    stats = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended meanwhile
                continue
    tree = {root}
    while grown := {pid for pid, fields in stats.items() if int(fields[1]) in tree} - tree:
        tree |= grown
    return {pid: stats[pid] for pid in tree if pid in stats}


def tree_cpu_seconds(root: int) -> float | None:
    """CPU seconds used so far by a running process and all its descendants."""
    stats = tree_stats(root)
    if stats is None:
        return None
    ticks = sum(int(fields[11]) + int(fields[12]) for fields in stats.values())
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_memory_bytes(root: int) -> int | None:
    """The resident memory of a running process and all its descendants, in bytes."""
    stats = tree_stats(root)
    if stats is None:
        return None
    return sum(int(fields[21]) for fields in stats.values()) * os.sysconf("SC_PAGE_SIZE")


def snapshot() -> tuple[float, float, float] | None:
    """Busy and total CPU seconds of the whole machine, and this program's own share.

    Our own share counts the server too once it has stopped: a process's
    children's times are added to it when they end and are waited for.
    """
    if not (PROC / "stat").exists():
        return None
    # user nice system idle iowait irq softirq steal (guest time is inside user)
    ticks = [int(v) for v in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:9]]
    hz = os.sysconf("SC_CLK_TCK")
    idle, total = ticks[3] + ticks[4], sum(ticks)
    times = os.times()
    own = times.user + times.system + times.children_user + times.children_system
    return (total - idle) / hz, total / hz, own


def others_share(before, after) -> float | None:
    """The share of all cores that other programs (or the hypervisor) kept busy meanwhile."""
    if before is None or after is None:
        return None
    busy, total, own = (end - start for start, end in zip(before, after, strict=True))
    return max(0.0, (busy - own) / total)
