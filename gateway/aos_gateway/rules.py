"""Traefik v3 router rules: parse once at load time into a matcher, match per request.

Grammar (Traefik v3 syntax): matchers `Host`, `HostRegexp`, `Path`, `PathPrefix`, `PathRegexp`,
`Method`, `Header`, `HeaderRegexp`, `Query`, `QueryRegexp`, `ClientIP`; values in backticks or
double quotes; `!`, `&&`, `||` with the usual precedence (`!` > `&&` > `||`) and parentheses.
A rule that does not parse is a start-up error that names the rule and the position.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field


class RuleError(ValueError):
    """A rule that Traefik would refuse; the message names the rule and what is wrong."""


@dataclass(slots=True)
class RequestInfo:
    """What a rule can look at. Header names are lower case."""

    method: str
    path: str
    host: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, Sequence[str]] = field(default_factory=dict)
    client_ip: str = ""


Matcher = Callable[[RequestInfo], bool]

_ARITY: dict[str, tuple[int, int]] = {
    "Host": (1, 1),
    "HostRegexp": (1, 1),
    "Path": (1, 1),
    "PathPrefix": (1, 1),
    "PathRegexp": (1, 1),
    "Method": (1, 1),
    "Header": (2, 2),
    "HeaderRegexp": (2, 2),
    "Query": (1, 2),
    "QueryRegexp": (2, 2),
    "ClientIP": (1, 1),
}

_TOKEN = re.compile(
    r"\s*(?:(?P<op>&&|\|\||[!(),])|(?P<ident>[A-Za-z][A-Za-z0-9]*)"
    r"|(?P<raw>`[^`]*`)|(?P<quoted>\"(?:[^\"\\]|\\.)*\"))"
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    position: int


def _tokenize(rule: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(rule):
        if rule[position:].strip() == "":
            break
        match = _TOKEN.match(rule, position)
        if match is None or match.end() == position:
            start = position + (len(rule[position:]) - len(rule[position:].lstrip()))
            raise RuleError(f"bad rule {rule!r}: unexpected character at position {start}")
        kind = match.lastgroup or "op"
        text = match.group(kind)
        start = match.start(kind)
        if kind == "raw":
            kind, text = "string", text[1:-1]
        elif kind == "quoted":
            kind, text = "string", _unquote(text)
        tokens.append(_Token(kind, text, start))
        position = match.end()
    return tokens


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


class _Parser:
    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.tokens = _tokenize(rule)
        self.index = 0

    def error(self, message: str, token: _Token | None = None) -> RuleError:
        where = f" at position {token.position}" if token else " at end of rule"
        return RuleError(f"bad rule {self.rule!r}: {message}{where}")

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, kind: str, text: str | None = None) -> _Token:
        token = self.peek()
        if token is None or token.kind != kind or (text is not None and token.text != text):
            expected = text or kind
            raise self.error(f"expected {expected!r}", token)
        self.index += 1
        return token

    def parse(self) -> Matcher:
        if not self.tokens:
            raise RuleError(f"bad rule {self.rule!r}: empty rule")
        matcher = self.parse_or()
        leftover = self.peek()
        if leftover is not None:
            raise self.error(f"unexpected {leftover.text!r}", leftover)
        return matcher

    def parse_or(self) -> Matcher:
        parts = [self.parse_and()]
        while (token := self.peek()) is not None and token.text == "||" and token.kind == "op":
            self.index += 1
            parts.append(self.parse_and())
        if len(parts) == 1:
            return parts[0]
        return lambda request: any(part(request) for part in parts)

    def parse_and(self) -> Matcher:
        parts = [self.parse_unary()]
        while (token := self.peek()) is not None and token.text == "&&" and token.kind == "op":
            self.index += 1
            parts.append(self.parse_unary())
        if len(parts) == 1:
            return parts[0]
        return lambda request: all(part(request) for part in parts)

    def parse_unary(self) -> Matcher:
        token = self.peek()
        if token is None:
            raise self.error("expected a matcher")
        if token.kind == "op" and token.text == "!":
            self.index += 1
            inner = self.parse_unary()
            return lambda request: not inner(request)
        if token.kind == "op" and token.text == "(":
            self.index += 1
            inner = self.parse_or()
            self.take("op", ")")
            return inner
        if token.kind == "ident":
            return self.parse_matcher()
        raise self.error(f"unexpected {token.text!r}", token)

    def parse_matcher(self) -> Matcher:
        name_token = self.take("ident")
        name = name_token.text
        if name not in _ARITY:
            raise self.error(f"unknown matcher {name!r}", name_token)
        self.take("op", "(")
        args: list[str] = []
        if (token := self.peek()) is not None and not (token.kind == "op" and token.text == ")"):
            args.append(self.take("string").text)
            while (token := self.peek()) is not None and token.kind == "op" and token.text == ",":
                self.index += 1
                args.append(self.take("string").text)
        self.take("op", ")")
        low, high = _ARITY[name]
        if not low <= len(args) <= high:
            count = f"{low}" if low == high else f"{low} to {high}"
            raise self.error(f"{name} takes {count} argument(s), got {len(args)}", name_token)
        try:
            return _build(name, args)
        except (re.error, ValueError) as error:
            raise self.error(f"{name}: {error}", name_token) from error


def _host_of(request: RequestInfo) -> str:
    host = request.host
    if host.startswith("["):
        return host[: host.find("]") + 1].lower()
    return host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()


def _build(name: str, args: list[str]) -> Matcher:
    if name == "Path":
        path = _checked_path(args[0])
        return lambda request: request.path == path
    if name == "PathPrefix":
        prefix = _checked_path(args[0])
        return lambda request: request.path.startswith(prefix)
    if name == "PathRegexp":
        pattern = re.compile(args[0])
        return lambda request: pattern.search(request.path) is not None
    if name == "Method":
        method = args[0].upper()
        return lambda request: request.method == method
    if name == "Host":
        host = args[0].lower().rstrip(".")
        return lambda request: _host_of(request).rstrip(".") == host
    if name == "HostRegexp":
        host_pattern = re.compile(args[0])
        return lambda request: host_pattern.search(_host_of(request)) is not None
    if name == "Header":
        header, value = args[0].lower(), args[1]
        return lambda request: request.headers.get(header) == value
    if name == "HeaderRegexp":
        header, value_pattern = args[0].lower(), re.compile(args[1])
        return lambda request: value_pattern.search(request.headers.get(header, "")) is not None
    if name == "Query":
        key = args[0]
        if len(args) == 1:
            return lambda request: key in request.query
        wanted = args[1]
        return lambda request: wanted in request.query.get(key, ())
    if name == "QueryRegexp":
        key, query_pattern = args[0], re.compile(args[1])
        return lambda request: any(
            query_pattern.search(value) is not None for value in request.query.get(key, ())
        )
    network = ipaddress.ip_network(args[0], strict=False)

    def client_ip(request: RequestInfo) -> bool:
        try:
            return ipaddress.ip_address(request.client_ip) in network
        except ValueError:
            return False

    return client_ip


def _checked_path(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError(f"path {path!r} must start with '/'")
    return path


def parse_rule(rule: str) -> Matcher:
    """Compile a rule to a predicate over `RequestInfo`; `RuleError` names what is wrong."""
    return _Parser(rule).parse()


def default_priority(rule: str) -> int:
    """Traefik's default router priority: the length of the rule string."""
    return len(rule)
