"""The pack decodes a resource's properties once per request: same answers, one decoding."""

from __future__ import annotations

import sys
from typing import Any

from google.protobuf import json_format, struct_pb2  # type: ignore[import-untyped]

from tools.plan import ROOT

sys.path.insert(0, str(ROOT / "policies"))
from estate_policies import decoding


def test_one_decoding_per_message_and_the_sdks_own_result() -> None:
    memo = decoding._Memo()
    message = struct_pb2.Struct()
    json_format.ParseDict({"spec": {"replicas": 2.0, "names": ["a", "b"]}}, message)
    first: Any = memo.message_to_dict(message)
    assert memo.message_to_dict(message) is first  # the same decoding, not a new one
    assert first == json_format.MessageToDict(message)
    props = memo.deserialize(first)
    assert memo.deserialize(first) is props
    assert props == decoding._deserialize(json_format.MessageToDict(message), False)
    other = struct_pb2.Struct()
    json_format.ParseDict({"spec": {"replicas": 3.0}}, other)
    assert memo.message_to_dict(other) is not first and memo.message_to_dict(other)["spec"]["replicas"] == 3.0


def test_the_memo_stays_bounded() -> None:
    memo = decoding._Memo()
    messages = []
    for i in range(decoding._KEEP + 10):
        m = struct_pb2.Struct()
        json_format.ParseDict({"i": float(i)}, m)
        messages.append(m)
        memo.deserialize(memo.message_to_dict(m))
    assert len(memo._decoded) == decoding._KEEP and len(memo._deserialized) == decoding._KEEP


def test_one_proxy_tree_per_decoding_and_none_shared_for_others() -> None:
    memo = decoding._Memo()
    message = struct_pb2.Struct()
    json_format.ParseDict({"spec": {"containers": [{"name": "app"}]}}, message)
    props = memo.deserialize(memo.message_to_dict(message))
    tree = memo.proxy(props)
    assert memo.proxy(props) is tree and tree["spec"]["containers"][0]["name"] == "app"
    stranger: dict[str, Any] = {"spec": {}}
    assert memo.proxy(stranger) is not memo.proxy(stranger)  # not ours: built anew, never kept


def test_a_stack_analysis_of_prod_with_its_charts_fits_in_the_memo(prod_plan: Any) -> None:
    """Stack policies walk every resource in turn: a memo smaller than the stack would evict each
    resource just before the next policy needs it, and decode everything once per stack policy."""
    from tests.upstream import require_charts
    from tools.charts.chart import render_charts

    outcomes = render_charts(prod_plan.resources, require_charts())
    stack = len(prod_plan.resources) + sum(len(o.children) for o in outcomes)
    # Room for the stack as it grows (cells, inference, automation), not just today's.
    assert stack * 2 <= decoding._KEEP, stack
