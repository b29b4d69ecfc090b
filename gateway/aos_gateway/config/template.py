"""The one piece of Traefik's Go templating the document uses: `{{ env "NAME" | default "value" }}`.

Traefik renders file-provider documents as Go templates (with Sprig) before parsing them, so the same
`dynamic.yml` points real Traefik at `http://tenants:8001` in compose (via its environment) and the
Python gateway at `http://127.0.0.1:8001` by default. Any other template action is refused by name,
so the two never disagree silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_ACTION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_ENV = re.compile(
    r'^\s*env\s+"(?P<name>[A-Za-z_][A-Za-z0-9_]*)"\s*'
    r'(?:\|\s*default\s+"(?P<default>(?:[^"\\]|\\.)*)"\s*)?$'
)


class TemplateError(ValueError):
    """A template action the gateway does not render."""


def render_template(text: str, environ: Mapping[str, str]) -> str:
    """Replace every `{{ env "X" | default "d" }}` (Sprig semantics: empty means unset)."""

    def substitute(match: re.Match[str]) -> str:
        action = _ENV.match(match.group(1))
        if action is None:
            raise TemplateError(f"unsupported template action {match.group(0)!r}")
        value = environ.get(action.group("name"), "")
        if value == "" and action.group("default") is not None:
            return re.sub(r"\\(.)", r"\1", action.group("default"))
        return value

    return _ACTION.sub(substitute, text)
