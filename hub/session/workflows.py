"""The session workflows, attached to a hub's :class:`Services`: the congress's channel
kinds and their rules, its accounts (each loads as a :class:`~hub.session.members.Member`
with its memberships), and the workflows' background parts.

The app builds one :class:`Workflows` per process: the notice tally (fed by stored
receipts), presence leases (fed by connections), the cluster's deadline watcher and the
reach dispatcher (Web Push to those with no page open, text messages) and the cluster's
escalator (urgent notices still unread go out as text messages).
"""

from __future__ import annotations

from hub.reach import make_reach, make_texters
from hub.reach.dispatch import Dispatcher
from hub.reach.escalate import Escalator
from hub.services import Services
from hub.session import channels, members
from hub.session.deadlines import DeadlineWatcher
from hub.session.notices import NoticeTally
from hub.session.presence import Presence


class Workflows:
    def __init__(self, services: Services) -> None:
        settings = services.settings
        channels.register(services.channels)
        services.principals.accounts = members.load_members
        self.notice_tally = NoticeTally(services.node, settings.tally_interval)
        services.receipts.listeners.append(self.notice_tally.on_receipts)
        self.presence = Presence(services.node, settings.node_id, settings.presence_ttl)
        services.on_connect.append(self.presence.connected)
        services.on_disconnect.append(self.presence.disconnected)
        self.deadlines = DeadlineWatcher(services)
        # Reaching those with no page open: Web Push and text messages, or the channels
        # that log; escalating the urgent notices still unread.
        self.reach = Dispatcher(
            services.node,
            make_reach(settings),
            settings.push_retry,
            settings.push_attempts,
            claim=settings.reach_claim or max(settings.push_timeout, settings.sms_timeout) * 3 + 30,
            texters=make_texters(settings),
            text_retry=settings.sms_retry,
            text_attempts=settings.sms_attempts,
        )
        self.escalator = Escalator(services, self.reach)
        services.parts += [
            self.deadlines,
            self.presence,
            self.notice_tally,
            self.reach,
            self.escalator,
        ]
