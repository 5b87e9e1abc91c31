"""The generated migrations (components/platform/grants.py): pgaudit everywhere, IAM users' access."""

from __future__ import annotations

from typing import Any

from components.cloud.database import iam_user_name
from components.platform.grants import generated_migrations, iam_user, quote_ident
from components.platform.migrate import migrations
from stacks import load
from stacks.config_cells import REFERENCE
from tests.conftest import area, config_with, stack_cfg
from tools.plan import stack_config


def _cfg(stack: str, **database: Any) -> Any:
    return load(stack, config_with(stack, database={**area(stack, "database"), **database}))


def test_pgaudit_is_created_in_every_configured_database() -> None:
    files = generated_migrations(_cfg("dev", databases={"app": {}, "analytics": {}}))
    # The two configured here, and the services' own: Harbor's, n8n's and Windmill's.
    assert sorted(files) == [
        "9000_estate_analytics.sql",
        "9000_estate_app.sql",
        "9000_estate_harbor.sql",
        "9000_estate_n8n.sql",
        "9000_estate_windmill.sql",
    ]
    for name, body in files.items():
        db = name.removeprefix("9000_estate_").removesuffix(".sql")
        lines = body.splitlines()
        assert lines[1:4] == [f"\\connect {db}", "BEGIN;", "CREATE EXTENSION IF NOT EXISTS pgaudit;"]
        assert lines[-1] == "COMMIT;"


def test_generated_files_run_after_the_static_migrations() -> None:
    generated = generated_migrations(load("prod", stack_config("prod")))
    assert max(migrations()) < min(generated)


def test_iam_user_names_match_what_cloud_sql_creates() -> None:
    email = "prod-wl-cells@ai-estate-prod.iam.gserviceaccount.com"
    assert iam_user("prod", "cells", "ai-estate-prod") == iam_user_name(email) == "prod-wl-cells@ai-estate-prod.iam"


def test_read_write_user_gets_dml_and_default_privileges_for_the_admins_future_tables() -> None:
    body = generated_migrations(load("prod", stack_config("prod")))["9000_estate_app.sql"]
    who = f'"prod-wl-cells@{stack_cfg("prod").project}.iam"'
    assert 'CREATE SCHEMA IF NOT EXISTS "estate";' in body
    assert f'GRANT USAGE ON SCHEMA "estate" TO {who};' in body
    assert f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "estate" TO {who};' in body
    assert (
        f'ALTER DEFAULT PRIVILEGES FOR ROLE "estate_admin" IN SCHEMA "estate" '
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {who};"
    ) in body
    assert f'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA "estate" TO {who};' in body
    # Privileges are declared, not accumulated: revokes come before the grants.
    assert body.index(f'REVOKE ALL ON ALL TABLES IN SCHEMA "estate" FROM {who};') < body.index("GRANT SELECT")


def test_read_only_is_the_default_and_grants_no_writes() -> None:
    users = {"reports": {"type": "CLOUD_IAM_SERVICE_ACCOUNT", "workload": "cells"}}
    body = generated_migrations(_cfg("dev", users=users, schemas=["estate", "reporting"]))["9000_estate_app.sql"]
    who = f'"dev-wl-cells@{stack_cfg("dev").project}.iam"'
    for schema in ("estate", "reporting"):
        assert f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {who};' in body
        assert (
            f'ALTER DEFAULT PRIVILEGES FOR ROLE "estate_admin" IN SCHEMA "{schema}" GRANT SELECT ON TABLES TO {who};'
        ) in body
    assert "INSERT" not in body and "UPDATE" not in body


def test_no_iam_users_means_only_pgaudit_and_schemas() -> None:
    # Without the cells (whose login is the dev stack's IAM user) and without IAM users.
    database = {**area("dev", "database"), "users": {}}
    # Without model servers, no API key for them either.
    workloads = {
        name: {**wl, "secrets": [s for s in wl.get("secrets", []) if s != "inference-api-key"]}
        for name, wl in stack_cfg("dev").model_dump(by_alias=True)["identity"]["workloads"].items()
    }
    config = config_with(
        "dev",
        database=database,
        cells=dict.fromkeys(REFERENCE),
        sandbox={"enabled": False},
        automation={**area("dev", "automation"), "enabled": False},
        inference=dict.fromkeys(stack_cfg("dev").inference),
        identity={"workloads": workloads},
    )
    body = generated_migrations(load("dev", config))["9000_estate_app.sql"]
    assert "GRANT" not in body and "CREATE EXTENSION IF NOT EXISTS pgaudit;" in body


def test_identifiers_are_quoted() -> None:
    assert quote_ident('a"b@c.iam') == '"a""b@c.iam"'


def test_harbors_database_is_closed_to_all_but_its_user() -> None:
    cfg = load("prod", stack_config("prod"))
    body = generated_migrations(cfg)[f"9000_estate_{cfg.harbor.database}.sql"]
    db, user = quote_ident(cfg.harbor.database), quote_ident(cfg.harbor.database_user)
    assert f"REVOKE CONNECT, TEMPORARY ON DATABASE {db} FROM PUBLIC;" in body
    assert f"GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {user};" in body
    # No estate schema, no IAM user's grant: the database is Harbor's alone.
    assert "CREATE SCHEMA" not in body and ".iam" not in body
