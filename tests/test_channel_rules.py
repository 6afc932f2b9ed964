"""The transport knows channels only by name: the layer above registers each kind and who
may subscribe or publish (``hub.channels.ChannelRules``). A new kind is one registration,
no transport change; a kind nobody registered is refused with a message listing those that
exist."""

from __future__ import annotations

import pytest

from hub.auth import Principal
from hub.channels import Channel, ChannelRules, parse_channel
from hub.errors import BadRequest, Forbidden
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.servers import RunningHub

SEC = Principal(1, "秘书处", "secretariat")
DEP = Principal(2, "代表", "deputy")


def _only_secretariat(p: Principal, ch: Channel, kind: str) -> None:
    if p.role != "secretariat":
        raise Forbidden(f"{p.role} {p.id} may not publish to {ch.name}")


def test_rules_decide_per_registered_kind() -> None:
    rules = ChannelRules()
    rules.register("committee", lambda p, id_: p.role == "secretariat", _only_secretariat)
    rules.check_subscribe(SEC, parse_channel("committee:3"))
    with pytest.raises(Forbidden):
        rules.check_subscribe(DEP, parse_channel("committee:3"))
    with pytest.raises(Forbidden):
        rules.check_publish(DEP, parse_channel("committee:3"), "bulletin")
    with pytest.raises(BadRequest, match=r"unknown channel kind 'meeting'.*committee"):
        rules.check_subscribe(SEC, parse_channel("meeting:7"))
    with pytest.raises(ValueError, match="registered already"):
        rules.register("committee", lambda p, id_: True, _only_secretariat)


async def test_a_new_kind_served_end_to_end(hub: RunningHub, world: World) -> None:
    """A kind registered on a running hub is subscribed to and published on over /ws like
    the congress's own; before it is registered the same names are refused."""
    sec = await Client.connect(hub.ws_url, world.tok(world.secretariat))
    r = await sec.request({"type": "subscribe", "channel": "committee:1", "ref": "s"})
    assert (r["type"], r["code"]) == ("error", "bad_request")
    assert "unknown channel kind 'committee'" in r["message"] and "desk" in r["message"]
    hub.services.channels.register(
        "committee", lambda p, id_: p.role == "secretariat", _only_secretariat
    )
    await sec.subscribe("committee:1")
    assert (await sec.publish("committee:1", {"t": "委员会会议"}))["type"] == "published"
    history = await hub.services.log.read("committee:1", 0, 10)
    assert [m.body for m in history] == ['{"t":"委员会会议"}']
    dep = await Client.connect(hub.ws_url, world.tok(world.deputies[0]))
    r = await dep.request({"type": "subscribe", "channel": "committee:1", "ref": "d"})
    assert (r["type"], r["code"]) == ("error", "forbidden")
