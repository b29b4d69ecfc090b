import { useQuery } from "@tanstack/react-query";
import type { ColumnDef } from "@tanstack/react-table";
import { useState } from "react";
import { api, ok } from "../api/client";
import type { TraceList, TraceSummary } from "../api/types";
import { DataTable } from "../components/DataTable";
import { Empty, ErrorState, Loading } from "../components/States";
import { formatDuration, formatTime } from "../lib/format";
import { href, navigate } from "../lib/router";
import { Compare } from "./traces/Compare";
import { TraceDetail } from "./traces/Detail";
import { Mismatches } from "./traces/Mismatches";
import { Tabs } from "./traces/Tabs";
import { Pager } from "../components/Pager";

const PAGE = 25;

export default function TracesPage({ route }: { route: string[] }) {
  if (route[0] === "compare" && route[1] && route[2]) return <Compare a={route[1]} b={route[2]} />;
  if (route[0] === "mismatches") return <Mismatches />;
  if (route[0]) return <TraceDetail id={route[0]} />;
  return <TraceListPage />;
}

interface Filters {
  agent_id: string;
  status: string;
  incident_id: string;
  from_date: string;
  to_date: string;
}
const NO_FILTERS: Filters = { agent_id: "", status: "", incident_id: "", from_date: "", to_date: "" };

function TraceListPage() {
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [offset, setOffset] = useState(0);
  const [selected, setSelected] = useState<string[]>([]);
  const query = useQuery({
    queryKey: ["traces", filters, offset],
    queryFn: () => {
      const q = Object.fromEntries(Object.entries(filters).filter(([, v]) => v));
      return ok(
        api.GET("/api/v1/traces", { params: { query: { ...q, limit: PAGE, offset } } }),
      ) as Promise<TraceList>;
    },
  });
  const toggle = (id: string) =>
    setSelected((current) =>
      current.includes(id) ? current.filter((x) => x !== id) : [...current, id].slice(-2),
    );
  const columns: ColumnDef<TraceSummary, unknown>[] = [
    {
      id: "pick",
      header: "Compare",
      enableSorting: false,
      cell: ({ row }) => (
        <input
          type="checkbox"
          aria-label={`Select ${row.original.run_id} to compare`}
          checked={selected.includes(row.original.run_id)}
          onChange={() => toggle(row.original.run_id)}
        />
      ),
    },
    {
      accessorKey: "run_id",
      header: "Run",
      cell: ({ row }) => <a href={href("traces", row.original.run_id)}>{row.original.run_id}</a>,
    },
    { accessorKey: "agent_id", header: "Agent" },
    {
      accessorKey: "status",
      header: "Status",
      cell: ({ getValue }) => <span className={`badge st-${String(getValue())}`}>{String(getValue())}</span>,
    },
    { accessorKey: "total_steps", header: "Steps" },
    { accessorKey: "failure_count", header: "Failures" },
    { accessorKey: "total_duration_ms", header: "Duration", cell: ({ getValue }) => formatDuration(getValue() as number) },
    { accessorKey: "started_at", header: "Started", cell: ({ getValue }) => formatTime(getValue() as string) },
    { accessorKey: "incident_id", header: "Incident", cell: ({ getValue }) => (getValue() as string) ?? "—" },
  ];
  const field = (name: keyof Filters, label: string, type = "text") => (
    <label>
      {label}
      <input
        type={type}
        value={draft[name]}
        onChange={(event) => setDraft({ ...draft, [name]: event.target.value })}
      />
    </label>
  );
  return (
    <>
      <div className="page-head">
        <h1>Traces</h1>
        <button
          type="button"
          disabled={selected.length !== 2}
          onClick={() => navigate("traces", "compare", selected[0], selected[1])}
        >
          Compare selected ({selected.length}/2)
        </button>
      </div>
      <Tabs current="list" />
      <form
        className="filters"
        onSubmit={(event) => {
          event.preventDefault();
          setOffset(0);
          setFilters(draft);
        }}
      >
        {field("agent_id", "Agent")}
        <label>
          Status
          <select value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.target.value })}>
            <option value="">any</option>
            <option value="completed">completed</option>
            <option value="failed">failed</option>
            <option value="running">running</option>
          </select>
        </label>
        {field("incident_id", "Incident")}
        {field("from_date", "From", "date")}
        {field("to_date", "To", "date")}
        <button type="submit">Apply</button>
      </form>
      {query.isPending ? (
        <Loading label="traces" />
      ) : query.isError ? (
        <ErrorState error={query.error} retry={() => query.refetch()} />
      ) : query.data.items.length === 0 ? (
        <Empty title="No traces match">Traces appear when agents send runs (SDK or OTLP).</Empty>
      ) : (
        <>
          <DataTable data={query.data.items} columns={columns} caption="Agent runs" />
          <Pager offset={offset} pageSize={PAGE} shown={query.data.items.length} total={query.data.total} onOffset={setOffset} />
        </>
      )}
    </>
  );
}
