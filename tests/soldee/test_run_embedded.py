"""`make run`'s supervisor: when the worker dies, the whole portal stops and says so, web
server included (found by the staff explorer: the worker died, the web server's child
went on serving pages, and nothing processed payments, e-mails or refunds)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_when_the_worker_dies_the_whole_portal_stops_and_says_why(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CELERY_", "CACHE_URL"))}
    env.update(SOLDEE_PORT=str(port), SOLDEE_VAR_DIR=str(tmp_path / "var"), SECRET_KEY="x", DEBUG="1")
    runner = subprocess.Popen([sys.executable, "scripts/run_embedded.py"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not _answers(port) and time.time() < deadline:
            time.sleep(0.2)
        assert _answers(port), "the web server never answered"
        [worker] = [pid for pid in _children(runner.pid)
                    if b"celery" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        os.killpg(worker, signal.SIGKILL)  # the worker dies, as on the broker's bad message
        _out, err = runner.communicate(timeout=30)
        assert runner.returncode != 0
        assert "The worker and beat stopped" in err
        deadline = time.time() + 10
        while _answers(port) and time.time() < deadline:
            time.sleep(0.2)
        assert not _answers(port), "the web server outlived its worker"
    finally:
        if runner.poll() is None:
            runner.send_signal(signal.SIGTERM)
            runner.wait(timeout=30)


def test_a_terminal_hang_up_stops_the_web_server_and_the_worker(tmp_path):
    """Found by the review: with the children in sessions of their own, a closed terminal
    (SIGHUP to the supervisor's group) left both running, orphaned, the port taken."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CELERY_", "CACHE_URL"))}
    env.update(SOLDEE_PORT=str(port), SOLDEE_VAR_DIR=str(tmp_path / "var"), SECRET_KEY="x", DEBUG="1")
    runner = subprocess.Popen([sys.executable, "scripts/run_embedded.py"], cwd=ROOT, env=env,
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children = []
    try:
        deadline = time.time() + 60
        while not _answers(port) and time.time() < deadline:
            time.sleep(0.2)
        assert _answers(port), "the web server never answered"
        children = _children(runner.pid)
        os.killpg(runner.pid, signal.SIGHUP)  # the terminal hangs up its foreground group
        runner.wait(timeout=30)
        deadline = time.time() + 15
        while time.time() < deadline and (_answers(port) or _alive(children)):
            time.sleep(0.2)
        assert not _alive(children) and not _answers(port), f"orphaned: {_alive(children)}"
    finally:
        for pid in children:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _alive(pids) -> list[int]:
    """Running, not a zombie waiting for its (gone) parent."""
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive
