import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { ColumnDef } from "@tanstack/react-table";
import { useState } from "react";
import { api, ok } from "../api/client";
import type { Comparison, Integrity, Mismatch, TraceDocument, TraceList, TraceSummary } from "../api/types";
import { DataTable } from "../components/DataTable";
import { Empty, ErrorState, Loading, Panel } from "../components/States";
import { formatDuration, formatTime, shortHash } from "../lib/format";
import { hasRole } from "../lib/permissions";
import { href, navigate } from "../lib/router";
import { useSession } from "../lib/session";

const PAGE = 25;

export default function TracesPage({ route }: { route: string[] }) {
  if (route[0] === "compare" && route[1] && route[2]) return <Compare a={route[1]} b={route[2]} />;
  if (route[0] === "mismatches") return <Mismatches />;
  if (route[0]) return <TraceDetail id={route[0]} />;
  return <TraceListPage />;
}

function Tabs({ current }: { current: "list" | "mismatches" }) {
  return (
    <nav className="tabs" aria-label="Traces views">
      <a href={href("traces")} aria-current={current === "list" ? "page" : undefined}>Runs</a>
      <a href={href("traces", "mismatches")} aria-current={current === "mismatches" ? "page" : undefined}>
        Mismatches
      </a>
    </nav>
  );
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
          <div className="pager">
            <button type="button" className="secondary" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
              Previous
            </button>
            <span>
              {offset + 1}–{offset + query.data.items.length} of {query.data.total}
            </span>
            <button
              type="button"
              className="secondary"
              disabled={offset + PAGE >= query.data.total}
              onClick={() => setOffset(offset + PAGE)}
            >
              Next
            </button>
          </div>
        </>
      )}
    </>
  );
}

function TraceDetail({ id }: { id: string }) {
  const trace = useQuery({
    queryKey: ["trace", id],
    queryFn: () =>
      ok(api.GET("/api/v1/traces/{run_id}", { params: { path: { run_id: id } } })) as Promise<TraceDocument>,
  });
  const integrity = useQuery({
    queryKey: ["integrity", trace.data?.trace_id],
    enabled: !!trace.data,
    queryFn: () =>
      ok(
        api.GET("/api/v1/traces/{trace_id}/integrity", { params: { path: { trace_id: trace.data!.trace_id } } }),
      ) as Promise<Integrity>,
  });
  if (trace.isPending) return <Loading label="the trace" />;
  if (trace.isError) return <ErrorState error={trace.error} retry={() => trace.refetch()} />;
  const doc = trace.data;
  return (
    <>
      <div className="page-head">
        <h1>Run {doc.run_id}</h1>
        <a href={href("traces")}>Back to traces</a>
      </div>
      <div className="grid">
        <Panel title="Run">
          <dl className="facts">
            <dt>Agent</dt><dd>{doc.agent_id ?? "—"}</dd>
            <dt>Status</dt><dd><span className={`badge st-${doc.status}`}>{doc.status}</span></dd>
            <dt>Started</dt><dd>{formatTime(doc.started_at)}</dd>
            <dt>Completed</dt><dd>{formatTime(doc.completed_at)}</dd>
            <dt>Incident</dt><dd>{doc.incident_id ?? "—"}</dd>
          </dl>
        </Panel>
        <Panel title="Hashes">
          <dl className="facts mono">
            <dt>Root hash</dt><dd title={doc.root_hash}>{shortHash(doc.root_hash)}</dd>
            <dt>Plan hash</dt><dd>{shortHash(doc.plan_hash)}</dd>
            <dt>Seed</dt><dd>{doc.seed}</dd>
            <dt>Schema</dt><dd>{doc.schema_version}</dd>
            <dt>Hash verified</dt><dd>{doc.hash_verified ? "yes" : "no (client hash differed)"}</dd>
          </dl>
        </Panel>
        <Panel title="Integrity">
          {integrity.isPending ? (
            <Loading label="integrity" />
          ) : integrity.isError ? (
            <ErrorState error={integrity.error} />
          ) : (
            <div>
              <p>
                <span className={`badge grade-${integrity.data.grade.toLowerCase()}`}>{integrity.data.grade}</span>{" "}
                score {integrity.data.score} · {integrity.data.state}
              </p>
              <p className="muted">{integrity.data.explanation}</p>
              {integrity.data.missing.length > 0 && <p>Missing: {integrity.data.missing.join(", ")}</p>}
            </div>
          )}
        </Panel>
      </div>
      <Panel title={`Steps (${doc.steps.length})`} className="wide">
        <Waterfall doc={doc} />
      </Panel>
      <TraceMismatches traceId={doc.trace_id} />
    </>
  );
}

function Waterfall({ doc }: { doc: TraceDocument }) {
  if (doc.steps.length === 0) return <Empty title="This run has no steps" />;
  const starts = doc.steps.map((s) => new Date(s.timestamp).getTime());
  const origin = Math.min(...starts);
  const end = Math.max(...doc.steps.map((s, i) => starts[i] + s.duration_ms), origin + 1);
  const span = end - origin;
  return (
    <ol className="waterfall" data-testid="waterfall">
      {doc.steps.map((step, i) => {
        const left = ((starts[i] - origin) / span) * 100;
        const width = Math.max((step.duration_ms / span) * 100, 0.5);
        return (
          <li key={step.step_index} className={`wf-row st-${step.status}`}>
            <span className="wf-name">
              {step.step_index}. {step.skill_name}
              <span className="muted"> {step.status} · {formatDuration(step.duration_ms)} · {step.cost_cents}¢</span>
            </span>
            <span className="wf-track" aria-hidden="true">
              <span className="wf-bar" style={{ marginLeft: `${left}%`, width: `${width}%` }} />
            </span>
            <span className="wf-hash mono" title={`input ${step.input_hash} output ${step.output_hash}`}>
              {step.output_hash.slice(0, 8)}
            </span>
          </li>
        );
      })}
    </ol>
  );
}

function ResolveButton({ traceId, mismatchId }: { traceId: string; mismatchId: string }) {
  const session = useSession();
  const queryClient = useQueryClient();
  const resolve = useMutation({
    mutationFn: () =>
      ok(
        api.POST("/api/v1/traces/{trace_id}/mismatches/{mismatch_id}/resolve", {
          params: { path: { trace_id: traceId, mismatch_id: mismatchId }, query: { resolution_note: "Resolved in the console" } },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["mismatches"] }),
  });
  if (!hasRole(session, "admin", "operator")) return null;
  return (
    <button type="button" className="secondary" disabled={resolve.isPending} onClick={() => resolve.mutate()}>
      {resolve.isError ? "Retry resolve" : "Resolve"}
    </button>
  );
}

function MismatchList({ items }: { items: Mismatch[] }) {
  if (items.length === 0) return <Empty title="No mismatches" />;
  return (
    <ul className="mismatches">
      {items.map((m) => (
        <li key={m.mismatch_id}>
          <span className={`badge ${m.resolved ? "ok" : "sev-high"}`}>{m.resolved ? "resolved" : "open"}</span>
          <span>
            {m.trace_id && <a href={href("traces", m.trace_id)}>{m.trace_id}</a>} step {m.step_index ?? "—"}: {m.reason}
            <span className="muted mono"> expected {shortHash(m.expected_hash)} got {shortHash(m.actual_hash)}</span>
          </span>
          {!m.resolved && m.trace_id && <ResolveButton traceId={m.trace_id} mismatchId={m.mismatch_id} />}
        </li>
      ))}
    </ul>
  );
}

function TraceMismatches({ traceId }: { traceId: string }) {
  const query = useQuery({
    queryKey: ["mismatches", traceId],
    queryFn: () =>
      ok(api.GET("/api/v1/traces/{trace_id}/mismatches", { params: { path: { trace_id: traceId } } })) as Promise<{
        mismatches: Mismatch[];
      }>,
  });
  return (
    <Panel title="Mismatches">
      {query.isPending ? (
        <Loading label="mismatches" />
      ) : query.isError ? (
        <ErrorState error={query.error} />
      ) : (
        <MismatchList items={query.data.mismatches.map((m) => ({ ...m, trace_id: traceId }))} />
      )}
    </Panel>
  );
}

function Mismatches() {
  const [status, setStatus] = useState<"open" | "resolved">("open");
  const query = useQuery({
    queryKey: ["mismatches", "all", status],
    queryFn: () =>
      ok(api.GET("/api/v1/traces/mismatches", { params: { query: { window: "30d", status } } })) as Promise<{
        mismatches: Mismatch[];
        summary: { open: number; resolved: number };
      }>,
  });
  return (
    <>
      <div className="page-head">
        <h1>Traces</h1>
      </div>
      <Tabs current="mismatches" />
      <div className="segmented" role="group" aria-label="Mismatch status">
        {(["open", "resolved"] as const).map((value) => (
          <button key={value} type="button" aria-pressed={status === value} onClick={() => setStatus(value)}>
            {value}
            {query.data && ` (${query.data.summary[value]})`}
          </button>
        ))}
      </div>
      {query.isPending ? (
        <Loading label="mismatches" />
      ) : query.isError ? (
        <ErrorState error={query.error} retry={() => query.refetch()} />
      ) : (
        <MismatchList items={query.data.mismatches} />
      )}
    </>
  );
}

function Compare({ a, b }: { a: string; b: string }) {
  const comparison = useQuery({
    queryKey: ["compare", a, b],
    queryFn: () =>
      ok(
        api.GET("/api/v1/traces/compare/{run_id1}/{run_id2}", { params: { path: { run_id1: a, run_id2: b } } }),
      ) as Promise<Comparison>,
  });
  const first = useQuery({
    queryKey: ["trace", a],
    queryFn: () => ok(api.GET("/api/v1/traces/{run_id}", { params: { path: { run_id: a } } })) as Promise<TraceDocument>,
  });
  const second = useQuery({
    queryKey: ["trace", b],
    queryFn: () => ok(api.GET("/api/v1/traces/{run_id}", { params: { path: { run_id: b } } })) as Promise<TraceDocument>,
  });
  if (comparison.isPending) return <Loading label="the comparison" />;
  if (comparison.isError) return <ErrorState error={comparison.error} retry={() => comparison.refetch()} />;
  const result = comparison.data;
  const differing = new Set(result.differences.map((d) => d.field));
  return (
    <>
      <div className="page-head">
        <h1>Compare runs</h1>
        <a href={href("traces")}>Back to traces</a>
      </div>
      <p className={`verdict ${result.match ? "ok" : "bad"}`} role="status">
        {result.summary}
      </p>
      <Panel title="Compared fields" className="wide">
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Compared fields">
          <table className="compare" data-testid="compare-table">
            <thead>
              <tr>
                <th scope="col">Field</th>
                <th scope="col">{a}</th>
                <th scope="col">{b}</th>
              </tr>
            </thead>
            <tbody>
              {compareRows(first.data, second.data, result).map(([field, left, right]) => (
                <tr key={field} className={differing.has(field) ? "diff" : undefined}>
                  <th scope="row">
                    {field}
                    {differing.has(field) && <span className="sr-only"> (differs)</span>}
                  </th>
                  <td className="mono">{left}</td>
                  <td className="mono">{right}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Panel>
    </>
  );
}

function show(value: unknown): string {
  if (value === null || value === undefined) return "—";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** The API's compared fields, filled from both documents, differing ones from the API's answer. */
function compareRows(
  a: TraceDocument | undefined,
  b: TraceDocument | undefined,
  result: Comparison,
): [string, string, string][] {
  const rows = new Map<string, [string, string]>();
  const put = (field: string, x: unknown, y: unknown) => rows.set(field, [show(x), show(y)]);
  put("root_hash", result.trace1_root_hash, result.trace2_root_hash);
  if (a && b) {
    put("seed", a.seed, b.seed);
    put("frozen_timestamp", a.frozen_timestamp, b.frozen_timestamp);
    put("step_count", a.steps.length, b.steps.length);
    const count = Math.max(a.steps.length, b.steps.length);
    for (let i = 0; i < count; i++) {
      put(`step[${i}].skill_name`, a.steps[i]?.skill_name, b.steps[i]?.skill_name);
      put(`step[${i}].outcome_category`, a.steps[i]?.outcome_category, b.steps[i]?.outcome_category);
    }
  }
  for (const difference of result.differences) put(difference.field, difference.trace1, difference.trace2);
  return [...rows.entries()].map(([field, [x, y]]) => [field, x, y]);
}
