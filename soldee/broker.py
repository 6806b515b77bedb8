"""The embedded mode's broker: kombu's file-system transport, with each message written
whole before it can be seen. kombu writes the message file in place, and a worker could
take it while it was still empty: the worker died on the JSONDecodeError and that message
was lost (celery/kombu#1551; found by the staff explorer). Here a message is written to a
name no reader looks at, then renamed into the queue in one step (`os.replace`).

soldee.celery points kombu's "filesystem" transport here, so CELERY_BROKER_URL stays
filesystem:// and nothing else changes."""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

PARTIAL = ".writing"  # "<ms>_<uuid>.<queue>.msg.writing": not "<queue>.msg", so no reader takes it


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + PARTIAL
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel

    @property
    def default_connection_params(self):
        # No default host: the file-system transport has none, and with kombu's "localhost"
        # every connection to `filesystem://` logged "No hostname was supplied. Reverting to
        # default 'localhost'" (three times at each `make run`).
        return {"port": self.default_port}
