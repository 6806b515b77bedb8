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
    procs = [
        subprocess.Popen([PY, "manage.py", "runserver", f"{HOST}:{PORT}"], cwd=ROOT, env=env),
        subprocess.Popen(
            [PY, "-m", "celery", "-A", "soldee", "worker", "-B", "--loglevel=INFO",
             "--pool=threads", "--concurrency=4"],
            cwd=ROOT, env=env,
        ),
    ]
    print(f"\nSoldee portal: http://{HOST}:{PORT}/  (admin: /admin/, e-mails print here)\n"
          "Press Ctrl-C to stop the web server, the worker and beat.\n", flush=True)

    def stop(*_):
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        deadline = time.time() + 10
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()

    signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(0)))
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
