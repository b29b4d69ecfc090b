"""Let the contributed commands (`aos tenants`, `aos keys`, `aos token`, ...) reach the platform
that `aos up` runs from this data directory without the user exporting anything.

`aos up` generates this installation's secrets and, without DATABASE_URL/REDIS_URL, runs embedded
servers; a command run next to it gets those as defaults. Anything set in the environment wins.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

from aos_cli.config import load_config
from aos_cli.credentials import read_json
from aos_cli.errors import AosError
from aos_cli.state import read_state

_EMBEDDED_ENV = {
    "postgres": ("DATABASE_URL", "AOS_DATABASE_URL"),
    "redis": ("REDIS_URL", "AOS_REDIS_URL"),
}


def _unset(env: MutableMapping[str, str], *names: str) -> bool:
    return not any(env.get(name) for name in names)


def inherit_platform_environment(env: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Fill unset variables from the data directory; returns what was set."""
    env = os.environ if env is None else env
    try:
        config = load_config(env)
    except AosError:
        return {}
    found: dict[str, str] = {}
    secrets = read_json(config.data_dir / "secrets.json")
    for name, key in (("AOS_INTERNAL_SECRET", "internal_secret"), ("AOS_JWT_SECRET", "jwt_secret")):
        if _unset(env, name) and isinstance(secrets.get(key), str):
            found[name] = secrets[key]
    operator_key = read_json(config.credentials_path).get("operator_key")
    if _unset(env, "AOS_OPERATOR_KEY") and isinstance(operator_key, str):
        found["AOS_OPERATOR_KEY"] = operator_key
    state = read_state(config.run_file)
    if state is not None:
        for server, names in _EMBEDDED_ENV.items():
            url = state.embedded_urls.get(server)
            if url and _unset(env, *names):
                found[names[0]] = url
    env.update(found)
    return found
