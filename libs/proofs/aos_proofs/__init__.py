"""The AOS verification kernel: everything an auditor needs to check what the platform claims,
with no platform running (only `cryptography` and the RFC 8785 encoder beside the standard
library). The services compute with these very functions, so a check here is a check of theirs.

- `merkle`: RFC 6962 / RFC 9162 Merkle trees, inclusion and consistency proofs.
- `ledger`: the audit ledger's entry hash, hash chain and Ed25519-signed tree heads.
- `trace_hash`: canonical JSON and the schema-1.1 trace root hash.
- `bundle`: the evidence bundle's files and their offline check.
- `cli`: the `aos-verify` command.
"""
