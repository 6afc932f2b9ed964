"""The session workflows' background parts, attached to a hub's :class:`Services`.

The app builds one :class:`Workflows` per process: the notice tally (fed by stored
receipts), presence leases (fed by connections) and the cluster's deadline watcher.
"""

from __future__ import annotations

from hub.services import Services
from hub.session import channels
from hub.session.deadlines import DeadlineWatcher
from hub.session.notices import NoticeTally
from hub.session.presence import Presence


class Workflows:
    def __init__(self, services: Services) -> None:
        settings = services.settings
        channels.register(services.channels)
        self.notice_tally = NoticeTally(services.node, settings.tally_interval)
        services.receipts.listeners.append(self.notice_tally.on_receipts)
        self.presence = Presence(services.node, settings.node_id, settings.presence_ttl)
        services.on_connect.append(self.presence.connected)
        services.on_disconnect.append(self.presence.disconnected)
        self.deadlines = DeadlineWatcher(services)
        services.parts += [self.deadlines, self.presence, self.notice_tally]
