// Reservations (holds): what is authorized against the hard budgets and not yet settled, newest
// first, with what each holds, on which budgets and for whom; the other statuses show how holds
// ended.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { ColumnDef } from "@tanstack/react-table";
import { useState } from "react";
import { api, ok } from "../../api/client";
import type { components } from "../../api/schema";
import { DataTable } from "../../components/DataTable";
import { Empty, ErrorState, Loading, Panel } from "../../components/States";
import { heldBudgetLabel } from "../../lib/budgets";
import { formatTime } from "../../lib/format";
import { formatCents } from "../../lib/money";
import { ACTIONS, can } from "../../lib/permissions";
import { useSession } from "../../lib/session";
import { Pager } from "../../components/Pager";

type Reservation = components["schemas"]["ReservationListed"];
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

/** The budgets a reservation sits on, one line each (none: no hard budget applied). */
function HeldOn({ reservation }: { reservation: Reservation }) {
  if (reservation.budgets.length === 0) return <span className="muted">no hard budget</span>;
  return (
    <ul className="plain" data-testid="hold-budgets">
      {reservation.budgets.map((held) => (
        <li key={held.budget_id}>{heldBudgetLabel(held, reservation.status === "held")}</li>
      ))}
    </ul>
  );
}

/** Taking a hold off without a charge (work that will not run), for keys that may write costs. */
function useRelease() {
  const session = useSession();
  const queryClient = useQueryClient();
  const release = useMutation({
    mutationFn: (id: string) =>
      ok(api.POST("/api/v1/cost/reservations/{reservation_id}/release", { params: { path: { reservation_id: id } } })),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["reservations"] });
      void queryClient.invalidateQueries({ queryKey: ["budgets"] });
    },
  });
  return can(session, ACTIONS.releaseHolds) ? release : null;
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
  const release = useRelease();
  const columns: ColumnDef<Reservation, unknown>[] = [
    { accessorKey: "id", header: "Reservation", cell: ({ getValue }) => <span className="mono">{String(getValue())}</span> },
    { accessorKey: "held_cents", header: "Held", cell: ({ getValue }) => formatCents(getValue() as string) },
    { id: "for", header: "For", cell: ({ row }) => holder(row.original, keyNames) },
    { id: "budgets", header: "Budgets", enableSorting: false, cell: ({ row }) => <HeldOn reservation={row.original} /> },
    { accessorKey: "created_at", header: "Made", cell: ({ getValue }) => formatTime(getValue() as string) },
    status === "held"
      ? { accessorKey: "expires_at", header: "Expires", cell: ({ getValue }) => formatTime(getValue() as string) }
      : { accessorKey: "charged_cents", header: "Charged", cell: ({ getValue }) => formatCents(getValue() as string | null) },
  ];
  if (status === "held" && release) {
    columns.push({
      id: "actions",
      header: "Actions",
      enableSorting: false,
      cell: ({ row }) => (
        <button
          type="button"
          className="secondary"
          disabled={release.isPending}
          onClick={() => {
            if (window.confirm(`Release the hold of ${formatCents(row.original.held_cents)}? Nothing is charged.`)) {
              release.mutate(row.original.id);
            }
          }}
        >
          Release<span className="sr-only"> {row.original.id}</span>
        </button>
      ),
    });
  }
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
      {release?.isError && <ErrorState error={release.error} />}
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
          <Pager offset={offset} pageSize={PAGE} shown={page.data.rows.length} total={page.data.total} onOffset={setOffset} />
        </>
      )}
    </Panel>
  );
}
