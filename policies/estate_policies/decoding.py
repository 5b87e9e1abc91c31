"""Decode each resource's properties once per request instead of once per policy.

The policy SDK (pulumi-policy 1.21) turns a request's protobuf properties into a dict, and
then into an eagerly built tree of unknown-checking proxies, anew for every policy it runs, so
a resource costs its size times the number of policies: a chart's CustomResourceDefinitions
(schemas of hundreds of kilobytes) took most of a gate run. The result is the same for every
policy, and rules only read it, so the pack shares one decoding and one proxy tree per
message. Behaviour is unchanged; the SDK's own functions still do the work.
"""

from __future__ import annotations

from collections import OrderedDict
from types import SimpleNamespace
from typing import Any

from google.protobuf import json_format  # type: ignore[import-untyped]
from pulumi_policy import policy as sdk_policy

# Messages remembered: a stack analysis walks every resource once per stack policy, in order, so
# fewer than the stack holds would miss on every one (a scan evicts what the next scan needs first).
_KEEP = 4096


class _Memo:
    def __init__(self) -> None:
        # id -> (the message, kept alive so its id is not reused, and its decoded dict)
        self._decoded: OrderedDict[int, tuple[Any, dict[str, Any]]] = OrderedDict()
        self._deserialized: dict[int, tuple[dict[str, Any], bool, Any]] = {}
        self._proxied: dict[int, tuple[Any, Any]] = {}

    def message_to_dict(self, message: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return json_format.MessageToDict(message, *args, **kwargs)
        hit = self._decoded.get(id(message))
        if hit is not None and hit[0] is message:
            self._decoded.move_to_end(id(message))
            return hit[1]
        decoded = json_format.MessageToDict(message)
        self._decoded[id(message)] = (message, decoded)
        if len(self._decoded) > _KEEP:
            _, (_, dropped) = self._decoded.popitem(last=False)
            gone = self._deserialized.pop(id(dropped), None)
            if gone is not None:
                self._proxied.pop(id(gone[2]), None)
        return decoded

    def deserialize(self, props: dict[str, Any], proxy_secrets: bool = False) -> dict[str, Any]:
        key = id(props)
        hit = self._deserialized.get(key)
        if hit is not None and hit[0] is props and hit[1] == proxy_secrets:
            return hit[2]
        value = _deserialize(props, proxy_secrets)
        self._deserialized[key] = (props, proxy_secrets, value)
        self._proxied[id(value)] = (value, None)  # its proxy tree, built on first use
        return value

    def proxy(self, props: dict[str, Any]) -> dict[str, Any]:
        hit = self._proxied.get(id(props))
        if hit is None or hit[0] is not props:  # not a decoding this memo holds: nothing to share
            return _proxy(props)
        if hit[1] is None:
            self._proxied[id(props)] = (props, _proxy(props))
        return self._proxied[id(props)][1]


_deserialize = sdk_policy.deserialize_properties
_proxy = sdk_policy.unknown_checking_proxy


def share_property_decoding() -> None:
    """Install the shared decoding in the SDK's policy module (idempotent)."""
    if isinstance(sdk_policy.json_format, SimpleNamespace):
        return
    memo = _Memo()
    sdk_policy.json_format = SimpleNamespace(MessageToDict=memo.message_to_dict, ParseDict=json_format.ParseDict)
    sdk_policy.deserialize_properties = memo.deserialize
    sdk_policy.unknown_checking_proxy = memo.proxy
