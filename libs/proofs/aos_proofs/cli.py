"""`aos-verify`: check what the platform claims with no platform running.

    aos-verify bundle BUNDLE.zip [--public-key B64 | --keys KEYS.json]
    aos-verify ledger EXPORT.json [--public-key B64 | --keys KEYS.json]
    aos-verify inclusion --proof PROOF.json --head HEAD.json --tenant T [--entry ENTRY.json]
    aos-verify consistency --proof PROOF.json --first FIRST.json --second SECOND.json

Keys: a base64 raw Ed25519 public key, or the ledger's published key set (the JSON of
`GET /api/v1/audit/public-key`, one key or `{"keys": [...]}`), matched by the head's `key_id`.
A key obtained independently of the file being checked is what makes the check meaningful.
Exit status: 0 every check held, 1 a check failed, 2 the input could not be read.
Written with argparse, not Typer, so the kernel depends on nothing beyond cryptography.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aos_proofs import ledger, merkle
from aos_proofs.bundle import verify_bundle

EXIT_OK, EXIT_FAILED, EXIT_UNREADABLE = 0, 1, 2


class UnreadableInput(Exception):
    """A file that is missing or not the JSON the command needs; its message says which."""


def _load_json(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except OSError as error:
        raise UnreadableInput(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise UnreadableInput(f"{path} is not valid JSON: {error}") from None


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise UnreadableInput(f"{what} must be a JSON object")
    data = value.get("data")
    return data if isinstance(data, Mapping) and "success" in value else value


def published_keys(document: Any) -> dict[str, str]:
    """key_id → base64 public key, from one published key or a key set `{"keys": [...]}`."""
    document = _object(document, "the key file")
    entries = document.get("keys") if isinstance(document.get("keys"), list) else [document]
    keys = {}
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("public_key"):
            keys[str(entry.get("key_id") or "")] = str(entry["public_key"])
    if not keys:
        raise UnreadableInput("the key file names no public_key")
    return keys


def _key_for(head: Mapping[str, Any], args: argparse.Namespace, fallback: str | None) -> str:
    if args.public_key:
        return str(args.public_key)
    if args.keys:
        keys = published_keys(_load_json(args.keys))
        key_id = str(head.get("key_id") or "")
        if key_id in keys:
            return keys[key_id]
        if len(keys) == 1 and not key_id:
            return next(iter(keys.values()))
        raise UnreadableInput(f"no published key has key_id {key_id or '(none)'}")
    if fallback:
        return fallback
    raise UnreadableInput("give --public-key or --keys: the file carries no public key")


def _print(findings: Sequence[tuple[str, bool, str]], as_json: bool) -> int:
    ok = bool(findings) and all(held for _, held, _ in findings)
    if as_json:
        checks = [{"check": c, "ok": held, "detail": d} for c, held, d in findings]
        print(json.dumps({"ok": ok, "checks": checks}, indent=2))
    else:
        for check, held, detail in findings:
            print(f"{'ok  ' if held else 'FAIL'} {check}: {detail}")
        print("verified" if ok else "NOT verified")
    return EXIT_OK if ok else EXIT_FAILED


def _bundle(args: argparse.Namespace) -> int:
    key = args.public_key
    if args.keys:
        keys = published_keys(_load_json(args.keys))
        key = next(iter(keys.values())) if len(keys) == 1 else None
        if key is None:
            raise UnreadableInput("for a bundle, --keys must hold one key (or use --public-key)")
    report = verify_bundle(args.file, public_key=key)
    return _print([(c.name, c.ok, c.detail) for c in report.checks], args.json)


def _ledger(args: argparse.Namespace) -> int:
    export = _object(_load_json(args.file), "the ledger export")
    entries, head = export.get("entries"), export.get("tree_head")
    if not isinstance(entries, list) or not isinstance(head, Mapping):
        raise UnreadableInput("a ledger export needs 'entries' (a list) and 'tree_head'")
    tenant_id = str(export.get("tenant_id") or (entries[0].get("tenant_id") if entries else ""))
    key = _key_for(head, args, export.get("public_key"))
    ordered = sorted(entries, key=lambda entry: int(entry.get("seq") or 0))
    findings = ledger.verify_export(ordered, head, tenant_id, key)
    return _print([(f.check, f.ok, f.detail) for f in findings], args.json)


def _inclusion(args: argparse.Namespace) -> int:
    proof = _object(_load_json(args.proof), "the proof")
    head = _object(_load_json(args.head), "the tree head")
    findings = [_signature(head, args)]
    leaf = str(proof.get("leaf_hash") or "")
    if args.entry:
        entry = _object(_load_json(args.entry), "the entry")
        recomputed = merkle.leaf_hash(ledger.entry_hash(entry))
        findings.append(
            ("entry.leaf_hash", recomputed == leaf, f"the entry's leaf hash is {recomputed}")
        )
        leaf = recomputed
    try:
        index, size = int(proof["leaf_index"]), int(proof["tree_size"])
    except (KeyError, TypeError, ValueError):
        raise UnreadableInput("the proof needs leaf_index and tree_size") from None
    included = size == _int(head.get("tree_size")) and merkle.verify_inclusion(
        leaf, index, size, list(proof.get("audit_path") or []), str(head.get("root_hash"))
    )
    findings.append(
        (
            "inclusion",
            included,
            f"leaf {index} {'is' if included else 'is NOT'} in the signed tree of size {size}",
        )
    )
    return _print(findings, args.json)


def _consistency(args: argparse.Namespace) -> int:
    proof = _object(_load_json(args.proof), "the proof")
    first = _object(_load_json(args.first), "the first tree head")
    second = _object(_load_json(args.second), "the second tree head")
    findings = []
    if args.tenant:
        findings += [_signature(first, args), _signature(second, args)]
    sizes = (_int(first.get("tree_size")), _int(second.get("tree_size")))
    held = (
        _int(proof.get("first")),
        _int(proof.get("second")),
    ) == sizes and merkle.verify_consistency(
        sizes[0],
        sizes[1],
        str(first.get("root_hash")),
        str(second.get("root_hash")),
        list(proof.get("proof") or []),
    )
    findings.append(
        (
            "consistency",
            held,
            f"the tree of size {sizes[0]} {'is' if held else 'is NOT'} a prefix of size {sizes[1]}",
        )
    )
    return _print(findings, args.json)


def _signature(head: Mapping[str, Any], args: argparse.Namespace) -> tuple[str, bool, str]:
    key = _key_for(head, args, head.get("public_key"))
    signed = ledger.verify_tree_head_signature(head, str(args.tenant), key)
    return (
        "tree_head.signature",
        signed,
        f"size {head.get('tree_size')}: {'signed' if signed else 'signature does not verify'}",
    )


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(
        prog="aos-verify",
        description="Check AOS ledger exports, proofs and evidence bundles offline.",
    )
    commands = main_parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--public-key", help="base64 raw Ed25519 public key of the ledger")
        sub.add_argument("--keys", help="the ledger's published key set (JSON)")
        sub.add_argument("--json", action="store_true", help="print the checks as JSON")
        return sub

    command("bundle", "check an evidence bundle (zip)").add_argument("file")
    command("ledger", "check a ledger export: every hash, the chain, the signed root").add_argument(
        "file"
    )
    inclusion = command("inclusion", "check an inclusion proof against a signed tree head")
    inclusion.add_argument("--proof", required=True)
    inclusion.add_argument("--head", required=True)
    inclusion.add_argument("--tenant", required=True, help="the tenant the tree head is signed for")
    inclusion.add_argument("--entry", help="the entry itself, to recompute its leaf hash")
    consistency = command("consistency", "check a consistency proof between two tree heads")
    consistency.add_argument("--proof", required=True)
    consistency.add_argument("--first", required=True)
    consistency.add_argument("--second", required=True)
    consistency.add_argument("--tenant", help="also check both heads' signatures for this tenant")
    return main_parser


HANDLERS = {
    "bundle": _bundle,
    "ledger": _ledger,
    "inclusion": _inclusion,
    "consistency": _consistency,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return HANDLERS[args.command](args)
    except UnreadableInput as error:
        print(f"aos-verify: {error}", file=sys.stderr)
        return EXIT_UNREADABLE


if __name__ == "__main__":
    sys.exit(main())
