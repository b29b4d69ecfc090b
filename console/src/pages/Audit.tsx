import { useQuery } from "@tanstack/react-query";
import type { ColumnDef } from "@tanstack/react-table";
import { useState } from "react";
import { api, ok } from "../api/client";
import type { components } from "../api/schema";
import { DataTable } from "../components/DataTable";
import { Empty, ErrorState, Loading, Panel } from "../components/States";
import { formatTime, shortHash } from "../lib/format";
import { Pager } from "../components/Pager";

type Entry = components["schemas"]["EntryRead"];
const PAGE = 50;

export default function AuditPage() {
  const [eventType, setEventType] = useState("");
  const [entityType, setEntityType] = useState("");
  const [filters, setFilters] = useState({ event_type: "", entity_type: "" });
  const [offset, setOffset] = useState(0);
  const entries = useQuery({
    queryKey: ["audit", filters, offset],
    queryFn: async () => {
      const query = Object.fromEntries(Object.entries(filters).filter(([, v]) => v));
      const result = await api.GET("/api/v1/audit/entries", { params: { query: { ...query, limit: PAGE, offset } } });
      const rows = await ok(Promise.resolve(result));
      const meta = (result.data as { meta?: { total?: number } } | undefined)?.meta;
      return { rows, total: meta?.total ?? rows.length };
    },
  });
  const verify = useQuery({
    queryKey: ["audit-verify"],
    enabled: false,
    queryFn: () => ok(api.GET("/api/v1/audit/verify")),
  });
  const head = useQuery({ queryKey: ["tree-head"], queryFn: () => ok(api.GET("/api/v1/audit/tree-head")) });
  const key = useQuery({ queryKey: ["audit-key"], queryFn: () => ok(api.GET("/api/v1/audit/public-key")) });
  const columns: ColumnDef<Entry, unknown>[] = [
    { accessorKey: "seq", header: "Seq" },
    { accessorKey: "created_at", header: "When", cell: ({ getValue }) => formatTime(getValue() as string) },
    { accessorKey: "event_type", header: "Event" },
    { accessorKey: "entity_type", header: "Entity", cell: ({ row }) => `${row.original.entity_type} ${row.original.entity_id}` },
    { accessorKey: "actor_id", header: "Actor", cell: ({ row }) => `${row.original.actor_type} ${row.original.actor_id}` },
    { accessorKey: "action_reason", header: "Reason" },
    { accessorKey: "entry_hash", header: "Hash", cell: ({ getValue }) => <span className="mono">{shortHash(getValue() as string)}</span> },
  ];
  const brokenSeq = verify.data && !verify.data.intact ? verify.data.broken_at_seq : null;
  return (
    <>
      <div className="page-head">
        <h1>Audit ledger</h1>
        <button type="button" onClick={() => verify.refetch()} disabled={verify.isFetching}>
          {verify.isFetching ? "Verifying…" : "Verify ledger"}
        </button>
      </div>
      {verify.isError && <ErrorState error={verify.error} retry={() => verify.refetch()} />}
      {verify.data && (
        <p className={`verdict ${verify.data.intact ? "ok" : "bad"}`} role="status" data-testid="verify-result">
          {verify.data.intact
            ? `Intact: all ${verify.data.checked} entries chain correctly.`
            : `Broken at seq ${verify.data.broken_at_seq}: ${verify.data.reason ?? "the chain does not verify"}.`}
        </p>
      )}
      <div className="grid">
        <Panel title="Signed tree head">
          {head.isPending ? (
            <Loading label="the tree head" />
          ) : head.isError ? (
            <ErrorState error={head.error} />
          ) : (
            <dl className="facts mono">
              <dt>Size</dt><dd>{head.data.tree_size}</dd>
              <dt>Root</dt><dd title={head.data.root_hash}>{shortHash(head.data.root_hash)}</dd>
              <dt>Signed at</dt><dd>{formatTime(head.data.timestamp)}</dd>
              <dt>Key id</dt><dd>{head.data.key_id}</dd>
            </dl>
          )}
        </Panel>
        <Panel title="Verify offline">
          {key.data ? (
            <>
              <p>
                The tree head is signed with {key.data.algorithm}. Fetch <code>/api/v1/audit/tree-head</code> and{" "}
                <code>/api/v1/audit/public-key</code>, rebuild the signed message ({key.data.signed_message}) and check
                the base64 signature with the public key below (for example with OpenSSL or PyNaCl); inclusion proofs
                come from <code>/api/v1/audit/proof/inclusion</code>.
              </p>
              <pre className="pem">{key.data.public_key_pem}</pre>
            </>
          ) : key.isError ? (
            <ErrorState error={key.error} />
          ) : (
            <Loading label="the public key" />
          )}
        </Panel>
      </div>
      <form
        className="filters"
        onSubmit={(event) => {
          event.preventDefault();
          setOffset(0);
          setFilters({ event_type: eventType, entity_type: entityType });
        }}
      >
        <label>
          Event type
          <input value={eventType} onChange={(e) => setEventType(e.target.value)} placeholder="ApiKeyCreated" />
        </label>
        <label>
          Entity type
          <input value={entityType} onChange={(e) => setEntityType(e.target.value)} placeholder="API_KEY" />
        </label>
        <button type="submit">Apply</button>
      </form>
      {entries.isPending ? (
        <Loading label="ledger entries" />
      ) : entries.isError ? (
        <ErrorState error={entries.error} retry={() => entries.refetch()} />
      ) : entries.data.rows.length === 0 ? (
        <Empty title="No entries match" />
      ) : (
        <>
          <DataTable
            data={entries.data.rows}
            columns={columns}
            caption="Audit ledger entries"
            rowClass={(row) => (row.seq === brokenSeq ? "diff" : undefined)}
          />
          <Pager offset={offset} pageSize={PAGE} shown={entries.data.rows.length} total={entries.data.total} onOffset={setOffset} />
        </>
      )}
    </>
  );
}
