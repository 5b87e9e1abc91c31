"""A thin client of Pulumi's analyzer protocol: start a policy pack the way the engine does and talk to it.

The engine launches a Python pack as `python -u -m pulumi.policy <engine-address> <pack-dir>`;
the pack prints its gRPC port and serves the Analyzer service. This module does the same,
serves a minimal Engine service for the pack's log calls, hands the pack the stack's config
(`PULUMI_CONFIG`, as the engine does), and reconciles the policy config as the engine does:
the pack's schema defaults, then the pack's initial config, then the `--policy-pack-config` JSON.
Policy evaluation itself happens only inside the pack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from concurrent import futures
from pathlib import Path
from typing import Any, cast

import grpc
import jsonschema
from google.protobuf import empty_pb2, json_format, struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, engine_pb2_grpc

LEVELS = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "remediate": analyzer_pb2.REMEDIATE,
    "disabled": analyzer_pb2.DISABLED,
}
LEVEL_NAMES = {v: k for k, v in LEVELS.items()}
_MAX_MESSAGE = 400 * 1024 * 1024


class PolicyConfigError(ValueError):
    """The stack's policy config does not fit the pack (unknown policy, bad level, schema violation)."""


class _Engine(engine_pb2_grpc.EngineServicer):
    def __init__(self) -> None:
        self.logs: list[str] = []

    def Log(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        self.logs.append(request.message)
        return empty_pb2.Empty()


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    json_format.ParseDict(dict(value), out)
    return out


def initial_config(info: Any) -> dict[str, dict[str, Any]]:
    """The pack's initial config (AnalyzerInfo.initialConfig) in the file's format. Its level is
    always set: the engine reads an unset one as advisory (the enum's zero)."""
    return {
        name: {"enforcementLevel": LEVEL_NAMES[entry.enforcementLevel], **json_format.MessageToDict(entry.properties)}
        for name, entry in info.initialConfig.items()
    }


def reconcile(info: Any, file_config: Mapping[str, Any]) -> dict[str, tuple[int, dict[str, Any]]]:
    """Per policy: (enforcement level, properties), from schema defaults, then the pack's initial
    config, then the file's: each "all" first, then the policy's entry (properties replace, one by one)."""
    policies = {p.name: p for p in info.policies}
    unknown = sorted(set(file_config) - set(policies) - {"all"})
    if unknown:
        raise PolicyConfigError(f"policy config names policies the pack does not have: {unknown}")
    initial = initial_config(info)
    result: dict[str, tuple[int, dict[str, Any]]] = {}
    for name, policy in policies.items():
        schema = json_format.MessageToDict(policy.configSchema.properties)
        level = policy.enforcementLevel
        props = {k: v["default"] for k, v in schema.items() if isinstance(v, dict) and "default" in v}
        for entry in (initial.get("all"), initial.get(name), file_config.get("all"), file_config.get(name)):
            if isinstance(entry, str):
                level = _level(name, entry)
            elif isinstance(entry, Mapping):
                entry = dict(entry)
                if "enforcementLevel" in entry:
                    level = _level(name, entry.pop("enforcementLevel"))
                props.update(entry)
        full = {
            "type": "object",
            "properties": schema,
            "additionalProperties": False,
            "required": list(policy.configSchema.required),
        }
        try:
            jsonschema.validate(props, full)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            raise PolicyConfigError(f"policy config for {name}: {where}: {exc.message}") from None
        result[name] = (level, props)
    return result


def _level(policy: str, value: Any) -> int:
    if value not in LEVELS:
        raise PolicyConfigError(f"policy config for {policy}: enforcement level {value!r}; allowed: {sorted(LEVELS)}")
    return LEVELS[value]


def _options(res: Mapping[str, Any]) -> analyzer_pb2.AnalyzerResourceOptions:
    opts = res.get("options") or {}
    timeouts = opts.get("customTimeouts") or None
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(opts.get("protect")),
        ignoreChanges=list(opts.get("ignoreChanges", [])),
        deleteBeforeReplace=bool(opts.get("deleteBeforeReplace")),
        additionalSecretOutputs=list(opts.get("additionalSecretOutputs", [])),
        parent=res.get("parent") or "",
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(
            create=_seconds(timeouts.get("create")),
            update=_seconds(timeouts.get("update")),
            delete=_seconds(timeouts.get("delete")),
        )
        if timeouts
        else None,
    )


def _seconds(value: str | None) -> float:
    if not value:
        return 0.0
    units = {"s": 1, "m": 60, "h": 3600}
    return float(value[:-1]) * units[value[-1]] if value[-1] in units else float(value)


class Analyzer:
    """One running policy pack. Use as a context manager."""

    def __init__(
        self,
        pack_dir: Path,
        *,
        project: str,
        stack: str,
        dry_run: bool = True,
        stack_config: Mapping[str, str] | None = None,
    ) -> None:
        """`stack_config` is the stack's config as the engine hands it to a pack (`namespace:key` to
        a string, objects as JSON): what the pack's initial config is derived from."""
        self.pack_dir = pack_dir
        self.project, self.stack, self.dry_run = project, stack, dry_run
        self.stack_config = dict(stack_config or {})
        self.engine = _Engine()
        self._providers: dict[str, Mapping[str, Any]] = {}

    def __enter__(self) -> Analyzer:
        self._engine_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        engine_pb2_grpc.add_EngineServicer_to_server(self.engine, self._engine_server)
        engine_port = self._engine_server.add_insecure_port("127.0.0.1:0")
        self._engine_server.start()
        env = {
            **os.environ,
            "PULUMI_PROJECT": self.project,
            "PULUMI_STACK": self.stack,
            "PULUMI_DRY_RUN": "true" if self.dry_run else "false",
        }
        env.pop("PULUMI_CONFIG", None)
        if self.stack_config:  # as the engine: only when the stack has config
            env["PULUMI_CONFIG"] = json.dumps(self.stack_config)
        self._proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.policy", f"127.0.0.1:{engine_port}", str(self.pack_dir)],
            cwd=self.pack_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._channel: grpc.Channel | None = None
        self._stub: analyzer_pb2_grpc.AnalyzerStub | None = None
        return self

    @property
    def stub(self) -> analyzer_pb2_grpc.AnalyzerStub:
        """Connect on first use, so the pack can start while the caller builds its plan."""
        if self._stub is None:
            assert self._proc.stdout is not None
            line = self._proc.stdout.readline().strip()
            if not line.isdigit():
                self._proc.kill()
                err = self._proc.stderr.read() if self._proc.stderr else ""
                raise RuntimeError(f"the policy pack did not start: {line}\n{err}")
            self._channel = grpc.insecure_channel(
                f"127.0.0.1:{line}",
                options=[
                    ("grpc.max_receive_message_length", _MAX_MESSAGE),
                    ("grpc.max_send_message_length", _MAX_MESSAGE),
                ],
            )
            self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        return self._stub

    def __exit__(self, *exc: object) -> None:
        if self._channel is not None:
            self._channel.close()
        self._proc.terminate()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream:
                stream.close()
        self._engine_server.stop(0)

    def info(self) -> Any:
        return self.stub.GetAnalyzerInfo(empty_pb2.Empty())

    def plugin_version(self) -> str:
        return str(self.stub.GetPluginInfo(empty_pb2.Empty()).version)

    def configure(self, file_config: Mapping[str, Any]) -> dict[str, tuple[int, dict[str, Any]]]:
        reconciled = reconcile(self.info(), file_config)
        request = analyzer_pb2.ConfigureAnalyzerRequest(
            policyConfig={
                name: analyzer_pb2.PolicyConfig(enforcementLevel=cast(Any, level), properties=_struct(props))
                for name, (level, props) in reconciled.items()
            }
        )
        self.stub.Configure(request)
        self.stub.ConfigureStack(
            analyzer_pb2.AnalyzerStackConfigureRequest(
                stack=self.stack,
                project=self.project,
                organization="organization",
                dry_run=self.dry_run,
                config=self.stack_config,
            )
        )
        return reconciled

    def remember_providers(self, resources: Iterable[Mapping[str, Any]]) -> None:
        self._providers = {r["urn"]: r for r in resources if r["type"].startswith("pulumi:providers:")}

    def _provider(self, res: Mapping[str, Any]) -> analyzer_pb2.AnalyzerProviderResource | None:
        # A provider reference is "<provider urn>::<provider id>".
        ref = res.get("provider") or ""
        prov = self._providers.get(ref.rsplit("::", 1)[0]) if ref else None
        if prov is None:
            return None
        return analyzer_pb2.AnalyzerProviderResource(
            type=prov["type"], properties=_struct(prov["inputs"]), urn=prov["urn"], name=prov["name"]
        )

    def _fields(self, res: Mapping[str, Any]) -> dict[str, Any]:
        """What Analyze and AnalyzeStack both carry for a resource."""
        return {
            "type": res["type"],
            "properties": _struct(res["inputs"]),
            "urn": res["urn"],
            "name": res["name"],
            "options": _options(res),
            "provider": self._provider(res),
        }

    def analyze(self, res: Mapping[str, Any]) -> Any:
        return self.stub.Analyze(analyzer_pb2.AnalyzeRequest(**self._fields(res)))

    def analyze_stack(self, resources: Iterable[Mapping[str, Any]]) -> Any:
        return self.stub.AnalyzeStack(
            analyzer_pb2.AnalyzeStackRequest(
                resources=[
                    analyzer_pb2.AnalyzerResource(
                        **self._fields(r),
                        parent=r.get("parent") or "",
                        dependencies=r.get("dependencies", []),
                        propertyDependencies={
                            k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v)
                            for k, v in (r.get("propertyDependencies") or {}).items()
                        },
                    )
                    for r in resources
                ]
            )
        )


def load_policy_config(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data
