"""`kaizen web` serves the process owners' web app; `kaizen users ...` manages its accounts."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from kaizenflow.storage.roles import ROLES  # not accounts: it imports SQLAlchemy

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="pipeline configuration (YAML)")]
UserArgument = Annotated[str, typer.Argument(help="user name: the e-mail or name tasks are owned by")]

users_app = typer.Typer(help="Accounts of the web app (viewer, owner, analyst, admin).", no_args_is_help=True)


@contextmanager
def _accounts(config_path: Path) -> Iterator[Any]:
    from kaizenflow.pipeline.config import load_config
    from kaizenflow.storage.accounts import AccountStore
    from kaizenflow.storage.state import StateStore

    config = load_config(config_path)
    config.state_directory.mkdir(parents=True, exist_ok=True)
    store = StateStore(config.state_url)
    try:
        yield AccountStore(store.engine)
    finally:
        store.dispose()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def _plain(user: Any) -> dict[str, Any]:
    return {"username": user.username, "role": user.role, "processes": list(user.processes),
            "scopes": list(user.scopes), "disabled": user.disabled}


def _changed(change: str, user: Any, as_json: bool) -> None:
    """What a users command did: a line for people, or ``{"change", "user"}`` as JSON."""
    if as_json:
        typer.echo(json.dumps({"change": change, "user": _plain(user)}, indent=2))
    else:
        typer.echo(f"{change} {_describe(user)}")


def _describe(user: Any) -> str:
    processes = ", ".join(user.processes) or "all processes"
    scopes = f"; owns {', '.join(user.scopes)}" if user.scopes else ""
    state = " (disabled)" if user.disabled else ""
    return f"{user.username}: {user.role} on {processes}{scopes}{state}"


def add(
    config: ConfigOption, username: UserArgument,
    role: Annotated[str, typer.Option(help=f"one of {', '.join(ROLES)}")] = "owner",
    process: Annotated[list[str] | None, typer.Option(
        "--process", help="a process the user works on (repeat; none: all)")] = None,
    scope: Annotated[list[str] | None, typer.Option(
        "--scope", help="attribute=value whose tasks an owner owns (repeat)")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="read the password from the first line of standard input")] = False,
    no_password: Annotated[bool, typer.Option(
        "--no-password", help="signs in only through the trusted proxy header")] = False,
    as_json: JsonOption = False,
) -> None:
    """Create an account (the password is asked for, and stored as an argon2 hash)."""
    from kaizenflow.pipeline.config import load_config

    known = [p.name for p in load_config(config).processes]
    for name in process or []:
        if name not in known:
            raise typer.BadParameter(f"no process {name!r} in {config} (processes: {', '.join(known)})",
                                     param_hint="--process")
    password = None if no_password else _password(password_stdin)
    with _accounts(config) as accounts:
        user = accounts.add_user(username, role, password, process or [], scope or [])
        accounts.audit("cli", "user_add", username, {"role": role, "processes": process or [],
                                                     "scopes": scope or []})
    _changed("created", user, as_json)


def list_users(
    config: ConfigOption,
    as_json: JsonOption = False,
) -> None:
    """List the accounts."""
    with _accounts(config) as accounts:
        found = accounts.list_users()
    if as_json:
        typer.echo(json.dumps([_plain(u) for u in found], indent=2))
        return
    if not found:
        typer.echo("no users: create the first admin with `kaizen users add NAME --role admin`")
    for user in found:
        typer.echo(_describe(user))


def disable(config: ConfigOption, username: UserArgument, as_json: JsonOption = False) -> None:
    """Disable an account: it can no longer sign in and its sessions end now."""
    with _accounts(config) as accounts:
        user = accounts.set_disabled(username, True)
        accounts.audit("cli", "user_disable", username, {})
    _changed("disabled", user, as_json)


def enable(config: ConfigOption, username: UserArgument, as_json: JsonOption = False) -> None:
    """Enable a disabled account again."""
    with _accounts(config) as accounts:
        user = accounts.set_disabled(username, False)
        accounts.audit("cli", "user_enable", username, {})
    _changed("enabled", user, as_json)


def set_role(config: ConfigOption, username: UserArgument,
             role: Annotated[str, typer.Argument(help=f"one of {', '.join(ROLES)}")],
             as_json: JsonOption = False) -> None:
    """Give an account another role."""
    with _accounts(config) as accounts:
        user = accounts.set_role(username, role)
        accounts.audit("cli", "user_set_role", username, {"role": role})
    _changed("changed", user, as_json)


def set_password(
    config: ConfigOption, username: UserArgument,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    as_json: JsonOption = False,
) -> None:
    """Set an account's password; its open sessions end."""
    password = _password(password_stdin)
    with _accounts(config) as accounts:
        accounts.set_password(username, password)
        accounts.audit("cli", "user_set_password", username, {})
    if as_json:
        typer.echo(json.dumps({"change": "password changed", "username": username}, indent=2))
    else:
        typer.echo(f"password of {username} changed")


def web(
    config: ConfigOption,
    host: Annotated[str, typer.Option(help="address to listen on (a reverse proxy in front for others)")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="processes (needs the state database on PostgreSQL "
                                                      "for more than one machine)")] = 1,
    proxy_headers: Annotated[bool, typer.Option(
        help="believe X-Forwarded-Proto/For from the addresses in web.proxy_addresses")] = True,
) -> None:
    """Serve the process owners' web app (uvicorn) until stopped."""
    from kaizenflow.pipeline.config import load_config

    loaded = load_config(config)
    with _accounts(config) as accounts:
        if not accounts.list_users():
            typer.echo("warning: no accounts yet; create one with "
                       f"`kaizen users add NAME --role admin --config {config}`", err=True)
    typer.echo(f"kaizenflow web app on http://{host}:{port} (state {loaded.state_url.split('://')[0]})",
               err=True)
    _run(config, host, port, workers, proxy_headers, loaded.web.proxy_addresses)


def _run(config: Path, host: str, port: int, workers: int, proxy_headers: bool, proxies: list[str]) -> None:
    import os

    import uvicorn

    os.environ["KAIZEN_WEB_CONFIG"] = str(config.resolve())
    uvicorn.run("kaizenflow.web.serve:application", factory=True, host=host, port=port, workers=workers,
                proxy_headers=proxy_headers, forwarded_allow_ips=",".join(proxies), log_level="warning")


def register(app: typer.Typer, reported: Any) -> None:
    app.command("web")(reported(web))
    for name, command in (("add", add), ("list", list_users), ("disable", disable), ("enable", enable),
                          ("set-role", set_role), ("set-password", set_password)):
        users_app.command(name)(reported(command))
    app.add_typer(users_app, name="users")
