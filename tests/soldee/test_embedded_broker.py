"""The embedded mode's file-system broker writes each message whole before a worker can
see it (soldee/broker.py). Found by the staff explorer: kombu wrote the file in place, a
worker took it while empty, died on the JSONDecodeError, and the message was lost."""

import json
import os

import pytest
from kombu import Connection
from kombu.transport import resolve_transport

import soldee.celery  # noqa: F401  (points kombu's "filesystem" at soldee.broker)
from soldee import broker


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
