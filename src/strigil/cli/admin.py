"""``strigil admin``: clinics, accounts and ingest tokens."""

from __future__ import annotations

import argparse
from typing import Any

from strigil.cli.errors import CliError, check_metadata_database, settings_or_fail


def register(sub: Any) -> None:
    admin = sub.add_parser("admin", help="clinics and accounts")
    actions = admin.add_subparsers(dest="action", required=True, metavar="ACTION")
    cc = actions.add_parser("create-clinic", help="a clinic with its default protocol")
    cc.add_argument("name")
    cu = actions.add_parser(
        "create-user", help="a person (password asked, or STRIGIL_NEW_PASSWORD)"
    )
    cu.add_argument("--clinic", required=True)
    cu.add_argument("--username", required=True)
    cu.add_argument("--role", required=True, choices=["admin", "therapist", "researcher"])
    rp = actions.add_parser("reset-password", help="set a new password")
    rp.add_argument("--username", required=True)
    ct = actions.add_parser("create-token", help="an API token for an ingester (ingest only)")
    ct.add_argument("--clinic", required=True)
    ct.add_argument("--name", required=True, help="what it is for, e.g. 'room 2 ingester'")
    rt = actions.add_parser("revoke-token", help="revoke an API token by its id")
    rt.add_argument("id")
    admin.set_defaults(func=admin_command)


def _new_password(prompt: str) -> str:
    import getpass
    import os

    return os.environ.get("STRIGIL_NEW_PASSWORD") or getpass.getpass(prompt)


def admin_command(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from strigil.store.api_tokens import create_api_token, revoke_api_token
    from strigil.store.clinics import create_clinic, create_user
    from strigil.store.database import open_database
    from strigil.store.models import Clinic, Role, User
    from strigil.store.passwords import WeakPasswordError, hash_password

    settings = settings_or_fail()
    check_metadata_database(settings)
    with open_database(settings.metadata_url)() as db:

        def clinic_named(name: str) -> Clinic:
            found = db.scalars(select(Clinic).where(Clinic.name == name)).first()
            if found is None:
                raise CliError(f"no clinic {name!r}: create-clinic first")
            return found

        def user_named(name: str) -> User | None:
            found: User | None = db.scalars(select(User).where(User.username == name)).first()
            return found

        try:
            if args.action == "create-clinic":
                if db.scalars(select(Clinic).where(Clinic.name == args.name)).first():
                    raise CliError(f"clinic {args.name!r} exists")
                clinic = create_clinic(db, args.name)
                db.commit()
                print(f"clinic {clinic.name} ({clinic.id}) with the default protocol")
            elif args.action == "create-user":
                found = clinic_named(args.clinic)
                if user_named(args.username) is not None:
                    raise CliError(f"user {args.username!r} exists")
                user = create_user(
                    db,
                    found,
                    args.username,
                    Role(args.role),
                    _new_password(f"password for {args.username}: "),
                )
                db.commit()
                print(f"user {user.username} ({user.role.value}) in {found.name}")
            elif args.action == "create-token":
                owner = clinic_named(args.clinic)
                record, clear = create_api_token(db, owner, args.name)
                db.commit()
                print(
                    f"API token {record.id} for {args.name!r} in {owner.name} "
                    "(shown once; only a digest is kept):"
                )
                print(clear)
            elif args.action == "revoke-token":
                if not revoke_api_token(db, args.id):
                    raise CliError(f"no live token {args.id!r}")
                db.commit()
                print(f"token {args.id} revoked")
            else:  # reset-password
                person = user_named(args.username)
                if person is None:
                    raise CliError(f"no user {args.username!r}")
                person.password_hash = hash_password(
                    _new_password(f"new password for {args.username}: ")
                )
                db.commit()
                print(f"password of {person.username} changed")
        except WeakPasswordError as exc:
            raise CliError(str(exc)) from None
    return 0
