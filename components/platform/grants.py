"""Generated migrations: pgaudit in every database, and each IAM database user's privileges.

Pure: config in, SQL files out (name -> body), for the migration Job to run after the static
migrations (the names sort after them). The Job connects to `database.migrationDatabase`;
each generated file switches to its own database with psql's `\\connect` (same host, user and
password) and runs in its own transaction, so it works with or without `--single-transaction`
(with it, psql only warns that no transaction is open at the end).

`cloudsql.enable_pgaudit` only makes the extension available: nothing is audited until
`CREATE EXTENSION pgaudit` runs in a database. IAM users log in with no privileges at all,
so each gets its configured access on the estate's schemas, and default privileges for the
tables and sequences the admin role creates later.
"""

from __future__ import annotations

import re

from stacks.model import EstateConfig
from stacks.naming import workload_account_id

GENERATED_PREFIX = "9000"
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PRIVILEGES = {
    "read-write": ("SELECT, INSERT, UPDATE, DELETE", "USAGE, SELECT, UPDATE"),
    "read-only": ("SELECT", "SELECT"),
}


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, always quoted (IAM user names contain '@' and '.')."""
    if "\0" in name:
        raise ValueError("identifiers cannot contain NUL")
    return '"' + name.replace('"', '""') + '"'


def iam_user(environment: str, workload: str, project: str) -> str:
    """The IAM database user of a workload: its service account email without `.gserviceaccount.com`."""
    return f"{workload_account_id(environment, workload)}@{project}.iam"


def _user_grants(user: str, access: str, schemas: list[str], admin: str, database: str) -> list[str]:
    tables, sequences = _PRIVILEGES[access]
    who, owner = quote_ident(user), quote_ident(admin)
    lines = [f"-- {user}: {access}", f"GRANT CONNECT ON DATABASE {quote_ident(database)} TO {who};"]
    for schema in schemas:
        s = quote_ident(schema)
        # Revoke first: a change from read-write to read-only must take privileges away.
        lines += [
            f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {who};",
            f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {who};",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {s} REVOKE ALL ON TABLES FROM {who};",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {s} REVOKE ALL ON SEQUENCES FROM {who};",
            f"GRANT USAGE ON SCHEMA {s} TO {who};",
            f"GRANT {tables} ON ALL TABLES IN SCHEMA {s} TO {who};",
            f"GRANT {sequences} ON ALL SEQUENCES IN SCHEMA {s} TO {who};",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {s} GRANT {tables} ON TABLES TO {who};",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {s} GRANT {sequences} ON SEQUENCES TO {who};",
        ]
    return lines


# The roles Windmill's migrations use for row-level security. Windmill creates `windmill_admin`
# WITH BYPASSRLS, which Cloud SQL's administrator cannot grant: made here first, without it, its
# first start finds them and goes on (its admin policies hold for `windmill_admin` without the
# bypass); without the grant to its login it fails with "permission denied to set role
# windmill_admin". Its user also creates its tables in `public` (PostgreSQL 15+ grants that to the
# database owner only).
WINDMILL_ROLES = ("windmill_user", "windmill_admin")


def windmill_roles(user: str) -> list[str]:
    create = [
        f"  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN CREATE ROLE {role} NOLOGIN; END IF;"
        for role in WINDMILL_ROLES
    ]
    login = quote_ident(user)
    return [
        "DO $$ BEGIN",
        *create,
        "END $$;",
        "GRANT windmill_user TO windmill_admin;",
        f"GRANT windmill_admin, windmill_user TO {login};",
        f"GRANT USAGE, CREATE ON SCHEMA public TO {login};",
    ]


def generated_migrations(cfg: EstateConfig) -> dict[str, str]:
    """One file per configured database: pgaudit, the estate's schemas, and every IAM user's access.
    A service's own database (Harbor's) gets pgaudit and is closed to everyone but its user: no
    estate schema, no IAM user, and no CONNECT for PUBLIC (which Postgres grants by default)."""
    db = cfg.database
    owned = {cfg.harbor.database: cfg.harbor.database_user} if cfg.harbor.enabled else {}
    w = cfg.automation.windmill
    windmill = cfg.automation.enabled and w.enabled
    if windmill:
        owned[w.database] = w.database_user
    n8n = cfg.automation.n8n
    if cfg.automation.enabled and n8n.enabled:
        owned[n8n.database] = n8n.database_user
    users = sorted(
        (iam_user(cfg.environment, u.workload or "", cfg.project), u.access or "read-only")
        for u in db.users.values()
        if u.type == "CLOUD_IAM_SERVICE_ACCOUNT"
    )
    files: dict[str, str] = {}
    for name in sorted(db.databases):
        if not _DB_NAME.match(name):
            raise ValueError(f"database name {name!r} does not match {_DB_NAME.pattern}")
        body = [
            "-- Generated from the stack config by components/platform/grants.py; do not edit.",
            f"\\connect {name}",
            "BEGIN;",
            "CREATE EXTENSION IF NOT EXISTS pgaudit;",
        ]
        if name in owned:
            body += [
                f"REVOKE CONNECT, TEMPORARY ON DATABASE {quote_ident(name)} FROM PUBLIC;",
                f"GRANT CONNECT, TEMPORARY ON DATABASE {quote_ident(name)} TO {quote_ident(owned[name])};",
            ]
            if windmill and name == w.database:
                body += windmill_roles(w.database_user)
        else:
            body += [f"CREATE SCHEMA IF NOT EXISTS {quote_ident(s)};" for s in db.schemas]
            for user, access in users:
                body += _user_grants(user, access, db.schemas, db.admin_user, name)
        body.append("COMMIT;")
        files[f"{GENERATED_PREFIX}_estate_{name}.sql"] = "\n".join(body) + "\n"
    return files
