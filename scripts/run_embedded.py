"""The embedded mode in one command: the web server, a Celery worker and beat (in the
worker, -B) on the file-system broker. Ctrl-C stops all of it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
HOST = os.environ.get("SOLDEE_HOST", "127.0.0.1")
PORT = os.environ.get("SOLDEE_PORT", "8000")


def main() -> int:
    env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "1"), "PYTHONUNBUFFERED": "1"}
    env.setdefault("SITE_URL", f"http://{HOST}:{PORT}")
    # Each in a process group of its own, stopped as a group: runserver's autoreloader runs
    # the server in a child that would otherwise outlive it, serving pages with no worker.
    names = ["web server", "worker and beat"]
    procs = [
        subprocess.Popen([PY, "manage.py", "runserver", f"{HOST}:{PORT}"], cwd=ROOT, env=env,
                         start_new_session=True),
        subprocess.Popen(
            [PY, "-m", "celery", "-A", "soldee", "worker", "-B", "--loglevel=INFO",
             "--pool=threads", "--concurrency=4"],
            cwd=ROOT, env=env, start_new_session=True,
        ),
    ]
    print(f"\nSoldee portal: http://{HOST}:{PORT}/  (admin: /admin/, e-mails print here)\n"
          "Press Ctrl-C to stop the web server, the worker and beat.\n", flush=True)

    def signal_group(p, sig):
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass

    def stop(*_):
        for p in procs:
            signal_group(p, signal.SIGINT)
        deadline = time.time() + 10
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pass
            signal_group(p, signal.SIGKILL)  # whatever of its group is left

    # The children are in sessions of their own: a closed terminal (SIGHUP) or a quit
    # reaches only this process, which must then stop them (found by the review).
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, lambda *a: (stop(), sys.exit(0)))
    code = 0
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        # One part stopped on its own: a portal without its worker would take payments and
        # requests that nothing processes, so everything stops, and says why.
        ended = next(i for i, p in enumerate(procs) if p.poll() is not None)
        code = procs[ended].returncode or 1
        print(f"\nThe {names[ended]} stopped (exit code {procs[ended].returncode}): stopping the portal. "
              "Its messages above say why; `make run` starts it again.", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        pass
    stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
