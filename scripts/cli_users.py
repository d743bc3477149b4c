"""`sightline user ...`, `sightline audit ...` and `sightline demo users`: the operator's side
of the security model. The operator at the server's shell acts as ``cli:<os user>`` and every
change is written to the audit log."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, default=str, ensure_ascii=False, indent=2))
    else:
        print(text)


def _engine(settings: Settings) -> Any:
    from store import migrate
    from store.engine import make_engine

    engine = make_engine(settings)
    migrate.upgrade(engine)
    return engine


def _password_arg(args: argparse.Namespace) -> str | None:
    """The password from stdin (--password-stdin), else None (generate one)."""
    if not getattr(args, "password_stdin", False):
        return None
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise ValueError("--password-stdin: no password on standard input")
    return line


def _shown_once(name: str, password: str, given: bool) -> str:
    if given:
        return f"password of {name} set (from standard input)"
    return f"password of {name}: {password}\n(shown once: give it to the user now)"


def user_create(args: argparse.Namespace, settings: Settings) -> int:
    from store import audit
    from store.scope import cli_principal
    from store.users import create_user

    given = _password_arg(args)
    with _engine(settings).begin() as conn:
        password = create_user(conn, args.name, args.role, jurisdiction_code=args.jurisdiction,
                               clearance=args.clearance, password=given)  # fmt: skip
        audit.record(conn, cli_principal(), "user.create", args.name,
                     details={"role": args.role, "jurisdiction": args.jurisdiction,
                              "clearance": args.clearance})  # fmt: skip
    data = {"name": args.name, "role": args.role, "jurisdiction": args.jurisdiction,
            "clearance": args.clearance, "password": None if given else password}  # fmt: skip
    head = f"user {args.name} ({args.role}, {args.jurisdiction or 'whole city'}) created\n"
    _emit(args, data, head + _shown_once(args.name, password, given is not None))
    return 0


def user_list(args: argparse.Namespace, settings: Settings) -> int:
    from store.users import list_users

    with _engine(settings).connect() as conn:
        users = list_users(conn)
    lines = [
        f"{u['name']:<20} {u['role']:<12} {u['jurisdiction'] or 'city':<10} "
        f"clearance {u['clearance']}  "
        + ("disabled" if u["disabled_at"] else "locked" if u["locked_until"] else "active")
        + f"  last login {u['last_login_at'] or 'never'}"
        for u in users
    ]  # fmt: skip
    _emit(args, {"users": users}, "\n".join(lines) or "no users (`sightline user create`)")
    return 0


def _simple(action: str) -> Handler:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        from store import audit, users
        from store.scope import cli_principal

        with _engine(settings).begin() as conn:
            if action == "user.disable":
                users.set_disabled(conn, args.name, True)
            elif action == "user.enable":
                users.set_disabled(conn, args.name, False)
            else:
                users.unlock(conn, args.name)
            audit.record(conn, cli_principal(), action, args.name)
        _emit(args, {"name": args.name, "done": action}, f"{action.split('.')[1]}d {args.name}"
              if action != "user.unlock" else f"unlocked {args.name}")  # fmt: skip
        return 0

    return run


def user_password(args: argparse.Namespace, settings: Settings) -> int:
    from store import audit
    from store.scope import cli_principal
    from store.users import set_password

    given = _password_arg(args)
    with _engine(settings).begin() as conn:
        password = set_password(conn, args.name, given)
        audit.record(conn, cli_principal(), "user.password", args.name)
    text = _shown_once(args.name, password, given is not None) + "\n(its sessions were ended)"
    _emit(args, {"name": args.name, "password": None if given else password}, text)
    return 0


def user_init_admin(args: argparse.Namespace, settings: Settings) -> int:
    """Create the first admin unless an enabled admin exists (for the setup command)."""
    from store import audit
    from store.scope import cli_principal
    from store.users import create_user, has_admin

    with _engine(settings).begin() as conn:
        if has_admin(conn):
            _emit(args, {"created": False}, "an admin exists (`sightline user list`)")
            return 0
        given = (settings.admin_password.get_secret_value()
                 if settings.admin_password is not None else None)  # fmt: skip
        password = create_user(conn, args.name, "admin", password=given)
        audit.record(conn, cli_principal(), "user.create", args.name,
                     details={"role": "admin", "initial": True})  # fmt: skip
    text = (f"first admin {args.name!r} created; "
            + ("password from SIGHTLINE_ADMIN_PASSWORD" if given else
               f"password: {password}\n(shown once: log in and keep it safe; "
               f"`sightline user reset-password {args.name}` makes a new one)"))  # fmt: skip
    _emit(args, {"created": True, "name": args.name,
                 "password": None if given else password}, text)  # fmt: skip
    return 0


STDIN_HELP = "read the password from standard input instead of generating one"
DEMO_USERS = (("demo-fontvieille", "990101"), ("demo-condamine", "990102"))
"""The demo's two district commanders (user name, district code)."""


def demo_users(args: argparse.Namespace, settings: Settings) -> int:
    """Create the demo's two district commanders (passwords printed once)."""
    from sqlalchemy import text

    from store import audit
    from store.scope import cli_principal
    from store.users import create_user, set_password

    out = []
    with _engine(settings).begin() as conn:
        codes = set(conn.execute(text("SELECT code FROM jurisdictions")).scalars())
        for name, code in DEMO_USERS:
            if code not in codes:
                raise ValueError(f"jurisdiction {code} is not in the store: load the demo city "
                                 "first (`sightline demo load`)")  # fmt: skip
            exists = conn.execute(text("SELECT 1 FROM users WHERE name = :n"),
                                  {"n": name}).first() is not None  # fmt: skip
            if exists and not args.reset:
                out.append({"name": name, "jurisdiction": code, "password": None})
                continue
            if exists:
                password = set_password(conn, name)
                audit.record(conn, cli_principal(), "user.password", name)
            else:
                password = create_user(conn, name, "commander", jurisdiction_code=code)
                details = {"role": "commander", "jurisdiction": code, "demo": True}
                audit.record(conn, cli_principal(), "user.create", name, details=details)
            out.append({"name": name, "jurisdiction": code, "password": password})
    lines = [f"{u['name']} (commander of {u['jurisdiction']}): "
             + (f"password {u['password']}" if u["password"] else "exists (--reset for a new "
                "password)") for u in out]  # fmt: skip
    if any(u["password"] for u in out):
        lines.append("(passwords shown once)")
    _emit(args, {"users": out}, "\n".join(lines))
    return 0


def audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    from store.audit import verify_chain

    with _engine(settings).connect() as conn:
        report = verify_chain(conn, expect_head=args.expect_head)
    if report.ok:
        text = f"audit log intact: {report.rows} rows, head {report.head}"
    else:
        where = f"first broken row: {report.first_bad_seq}\n" if report.first_bad_seq else ""
        text = f"AUDIT LOG BROKEN: {where}{report.reason}"
    _emit(args, report.as_dict(), text)
    return 0 if report.ok else 1


def audit_list(args: argparse.Namespace, settings: Settings) -> int:
    from store.audit import entries

    with _engine(settings).connect() as conn:
        rows = entries(conn, action=args.action, actor=args.actor, limit=args.limit)
    lines = [f"{r['seq']:>7} {r['at']:%Y-%m-%d %H:%M:%S} {r['actor']:<24} {r['action']:<18} "
             f"{r['outcome']:<8} {r['target']}" for r in rows]  # fmt: skip
    _emit(args, {"entries": rows}, "\n".join(lines) or "no entries")
    return 0


def register(sub: Any, cmd: Callable[..., argparse.ArgumentParser], demo_sub: Any) -> None:
    """Add the `user`, `audit` and `demo users` commands to the parser."""
    from store.users import ROLES

    usr = sub.add_parser("user", help="console users",
                         description="Console users (login, role, jurisdiction).")  # fmt: skip
    us = usr.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    uc = cmd(us, "create", user_create, "create a user (a random password is printed once)")
    uc.add_argument("name")
    uc.add_argument("--role", required=True, choices=ROLES)
    uc.add_argument("--jurisdiction", help="unit code the user works for (default: whole city)")
    uc.add_argument("--clearance", type=int, default=0,
                    help="highest camera access level the user may see (default 0)")  # fmt: skip
    uc.add_argument("--password-stdin", action="store_true",
                    help=STDIN_HELP)
    cmd(us, "list", user_list, "list users (never their passwords)")
    for name, action, help_text in (
        ("disable", "user.disable", "disable a user (ends its sessions and tokens)"),
        ("enable", "user.enable", "enable a disabled user"),
        ("unlock", "user.unlock", "clear a user's failed-login lock"),
    ):
        cmd(us, name, _simple(action), help_text).add_argument("name")
    rp = cmd(us, "reset-password", user_password, "set a new password (printed once)")
    rp.add_argument("name")
    rp.add_argument("--password-stdin", action="store_true",
                    help=STDIN_HELP)
    ia = cmd(us, "init-admin", user_init_admin,
             "create the first admin unless one exists (password: setting admin_password, "
             "else random, printed once)")  # fmt: skip
    ia.add_argument("--name", default="admin")

    aud = sub.add_parser("audit", help="the audit log", description="The audit log.")
    aus = aud.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    av = cmd(aus, "verify", audit_verify,
             "check the hash chain; exit 1 and name the first broken row")  # fmt: skip
    av.add_argument("--expect-head", help="hash the chain must end at (kept from a former run)")
    al = cmd(aus, "list", audit_list, "newest entries first")
    al.add_argument("--action", help="only this action, e.g. stream.open")
    al.add_argument("--actor", help="only this actor, e.g. user:alice")
    al.add_argument("--limit", type=int, default=50)

    du = cmd(demo_sub, "users", demo_users,
             "create the demo's two district commanders (passwords printed once)")  # fmt: skip
    du.add_argument("--reset", action="store_true", help="new passwords for existing demo users")
