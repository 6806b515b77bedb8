"""CPU time of the processes a benchmark exercises, read from /proc (Linux).

CPU time rather than wall time: a figure per renewal that holds on a machine doing other
work, and that says where the time goes (database, Python workers, Redis)."""

from pathlib import Path

TICK = __import__("os").sysconf("SC_CLK_TCK")


def _stat(pid) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rsplit(")", 1)[1].split()  # [0] is field 3 (state); utime is field 14 -> [11]


def _comm(pid) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _pids():
    return [p.name for p in Path("/proc").iterdir() if p.name.isdigit()]


def _own(fields) -> int:
    return int(fields[11]) + int(fields[12])


def _reaped(fields) -> int:
    return int(fields[13]) + int(fields[14])


def postgres_seconds() -> float:
    """Every PostgreSQL process, plus the exited backends of closed connections (their times
    are the postmaster's children times)."""
    total = 0
    for pid in _pids():
        if _comm(pid) not in ("postgres", "postmaster"):
            continue
        fields = _stat(pid)
        if fields is None:
            continue
        total += _own(fields)
        if _comm(fields[1]) not in ("postgres", "postmaster"):  # the postmaster itself
            total += _reaped(fields)
    return total / TICK


def redis_seconds() -> float:
    return sum(_own(f) for pid in _pids() if _comm(pid) == "redis-server" and (f := _stat(pid))) / TICK


def tree_seconds(root: int) -> float:
    """A process and its live descendants, with what their exited children used."""
    parents = {}
    for pid in _pids():
        fields = _stat(pid)
        if fields is not None:
            parents[int(pid)] = (int(fields[1]), fields)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid not in parents:
            continue
        fields = parents[pid][1]
        total += _own(fields) + _reaped(fields)
        todo += [child for child, (ppid, _f) in parents.items() if ppid == pid]
    return total / TICK


AUTOVACUUM_RUNNING = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"


def wait_autovacuum_idle(count_running, *, timeout: float = 120) -> None:
    """Wait until no autovacuum worker runs (in any database), so that the CPU measured next
    is the benchmark's: `count_running()` runs AUTOVACUUM_RUNNING and returns the count. A
    worker started during the measurement is part of the cost of the writes measured."""
    import time

    deadline = time.monotonic() + timeout
    while count_running() and time.monotonic() < deadline:
        time.sleep(0.5)
