"""Who may do what on the traces routes, and on which tenant's data (aos_common.auth's Caller).

Reads accept `traces:read` (or the generic `read:traces` a default API key carries through
`read:*`); writes need `traces:write`; retention, deletion and resolution need the admin role
(platform operators always pass). The tenant is the credential's; a `tenant_id` query parameter
must equal it unless the caller is an operator.
"""

from __future__ import annotations

from typing import Annotated

from aos_common.auth import Caller, caller_with_permission, caller_with_role

__all__ = ["AdminDep", "Caller", "ReaderDep", "WriterDep"]

ReaderDep = Annotated[Caller, caller_with_permission("traces:read", "read:traces")]
WriterDep = Annotated[Caller, caller_with_permission("traces:write")]
AdminDep = Annotated[Caller, caller_with_role("admin", detail="Requires admin or operator role")]
