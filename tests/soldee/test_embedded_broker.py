"""The embedded mode's file-system broker writes each message whole before a worker can
see it (soldee/broker.py). Found by the staff explorer: kombu wrote the file in place, a
worker took it while empty, died on the JSONDecodeError, and the message was lost."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kombu import Connection
from kombu.transport import resolve_transport

import soldee.celery  # noqa: F401  (points kombu's "filesystem" at soldee.broker)
from soldee import broker

ROOT = Path(__file__).resolve().parents[2]


def test_the_filesystem_transport_is_ours():
    assert resolve_transport("filesystem") is broker.Transport


@pytest.fixture
def connection(tmp_path):
    folder = tmp_path / "queue"
    folder.mkdir()
    with Connection("filesystem://", transport_options={
            "data_folder_in": str(folder), "data_folder_out": str(folder),
            "control_folder": str(tmp_path / "control"), "store_processed": False}) as conn:
        conn.folder = folder
        yield conn


def test_a_message_is_visible_to_a_worker_only_once_it_is_whole(connection, monkeypatch):
    seen_before_rename = []
    real_replace = os.replace

    def replace(src, dst):
        # the moment before the message appears: nothing a worker reads is in the folder
        seen_before_rename.append((sorted(os.listdir(connection.folder)), open(src, "rb").read()))
        return real_replace(src, dst)

    monkeypatch.setattr(broker.os, "replace", replace)
    queue = connection.SimpleQueue("celery")
    queue.put({"task": "x", "args": [1, 2]})
    [(listing, written)] = seen_before_rename
    assert len(listing) == 1 and listing[0].endswith(".celery.msg" + broker.PARTIAL)
    assert json.loads(written)["body"]  # the whole message, already decodable
    assert [name.endswith(".celery.msg") for name in os.listdir(connection.folder)] == [True]
    message = queue.get(timeout=2)
    assert message.payload == {"task": "x", "args": [1, 2]}
    message.ack()
    queue.close()


def test_the_filesystem_transport_logs_no_missing_hostname_but_others_still_do(caplog, tmp_path):
    """kombu logged "No hostname was supplied. Reverting to default 'localhost'" for every
    connection to filesystem://, which has no host (three times at each `make run`)."""
    with caplog.at_level(logging.WARNING, logger="kombu.connection"):
        conn = Connection("filesystem://")
        conn.info(), conn.clone().info()
        assert [r.getMessage() for r in caplog.records] == []
        Connection("redis://").info()  # a transport with a host: kombu's warning stays
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["No hostname was supplied. Reverting to default 'localhost'"]


def test_the_embedded_worker_starts_without_the_missing_hostname_warning(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.isupper() or k in ("PATH", "HOME", "LANG")}
    env.update({"SOLDEE_VAR_DIR": str(tmp_path), "DEBUG": "1", "PYTHONUNBUFFERED": "1"})
    command = [sys.executable, "-m", "celery", "-A", "soldee", "worker", "--pool=solo", "--loglevel=INFO"]
    worker = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = worker.stdout.readline()
            if not line:
                break
            lines.append(line)
            if " ready." in line:
                break
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            lines.extend(worker.communicate(timeout=30)[0].splitlines(keepends=True))
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.communicate()
    output = "".join(lines)
    assert " ready." in output and "filesystem://" in output, output
    assert "No hostname was supplied" not in output, output


def test_the_readme_does_not_tell_to_expect_the_missing_hostname_warning():
    """`make run` no longer logs it (soldee.broker.Transport has no default host): the README
    listed it among the warnings to expect."""
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "No hostname was supplied" not in readme
