// Reservations (holds): what is authorized against the hard budgets and not yet settled, newest
// first, with what each holds and for whom; the other statuses show how holds ended.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import type { ColumnDef } from "@tanstack/react-table";
import { useState } from "react";
import { api, ok } from "../../api/client";
import type { components } from "../../api/schema";
import { DataTable } from "../../components/DataTable";
import { Empty, ErrorState, Loading, Panel } from "../../components/States";
import { formatTime } from "../../lib/format";
import { formatCents } from "../../lib/money";

type Reservation = components["schemas"]["ReservationRead"];
type Status = Reservation["status"];
const STATUSES: Status[] = ["held", "settled", "released", "expired"];
const PAGE = 20;

/** Who a hold is for, from the fields it was made with. */
function holder(reservation: Reservation, keyNames: Map<string, string>): string {
  const parts = [
    reservation.feature_tag && `feature ${reservation.feature_tag}`,
    reservation.user_id && `user ${reservation.user_id}`,
    reservation.api_key_id && `key ${keyNames.get(reservation.api_key_id) ?? reservation.api_key_id}`,
    reservation.run_id && `run ${reservation.run_id}`,
    reservation.model && `model ${reservation.model}`,
  ].filter(Boolean);
  return parts.length ? parts.join(", ") : "the tenant";
}

export function Reservations({ keyNames }: { keyNames: Map<string, string> }) {
  const [status, setStatus] = useState<Status>("held");
  const [offset, setOffset] = useState(0);
  const page = useQuery({
    queryKey: ["reservations", status, offset],
    placeholderData: keepPreviousData,
    staleTime: 0,
    refetchInterval: status === "held" ? 15_000 : false, // holds end by themselves (settle, expiry)
    queryFn: async () => {
      const result = await api.GET("/api/v1/cost/reservations", { params: { query: { status, limit: PAGE, offset } } });
      const rows = (await ok(Promise.resolve(result))) as Reservation[];
      const meta = (result.data as { meta?: { total?: number } } | undefined)?.meta;
      return { rows, total: meta?.total ?? rows.length };
    },
  });
  const columns: ColumnDef<Reservation, unknown>[] = [
    { accessorKey: "id", header: "Reservation", cell: ({ getValue }) => <span className="mono">{String(getValue())}</span> },
    { accessorKey: "held_cents", header: "Held", cell: ({ getValue }) => formatCents(getValue() as string) },
    { id: "for", header: "For", cell: ({ row }) => holder(row.original, keyNames) },
    { accessorKey: "created_at", header: "Made", cell: ({ getValue }) => formatTime(getValue() as string) },
    status === "held"
      ? { accessorKey: "expires_at", header: "Expires", cell: ({ getValue }) => formatTime(getValue() as string) }
      : { accessorKey: "charged_cents", header: "Charged", cell: ({ getValue }) => formatCents(getValue() as string | null) },
  ];
  return (
    <Panel
      title="Reservations"
      className="wide"
      actions={
        <div className="segmented" role="group" aria-label="Reservation status">
          {STATUSES.map((value) => (
            <button
              key={value}
              type="button"
              aria-pressed={status === value}
              onClick={() => {
                setStatus(value);
                setOffset(0);
              }}
            >
              {value}
            </button>
          ))}
        </div>
      }
    >
      {page.isPending ? (
        <Loading label="reservations" />
      ) : page.isError ? (
        <ErrorState error={page.error} retry={() => page.refetch()} />
      ) : page.data.rows.length === 0 ? (
        <Empty title={status === "held" ? "No active holds" : `No ${status} reservations`}>
          Holds appear while work authorized with POST /api/v1/cost/reservations (or the SDK's reserve) is running.
        </Empty>
      ) : (
        <>
          <DataTable data={page.data.rows} columns={columns} caption={`Reservations ${status}`} />
          <div className="pager">
            <button type="button" className="secondary" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
              Previous
            </button>
            <span>
              {offset + 1}–{offset + page.data.rows.length} of {page.data.total}
            </span>
            <button
              type="button"
              className="secondary"
              disabled={offset + PAGE >= page.data.total}
              onClick={() => setOffset(offset + PAGE)}
            >
              Next
            </button>
          </div>
        </>
      )}
    </Panel>
  );
}
