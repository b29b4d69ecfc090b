import { useQuery } from "@tanstack/react-query";
import type { ColumnDef } from "@tanstack/react-table";
import { useState } from "react";
import { api, ApiError, ok, toError } from "../api/client";
import type { components } from "../api/schema";
import { DataTable } from "../components/DataTable";
import { Empty, ErrorState, Loading, Panel } from "../components/States";
import { verifyBundle, type BundleCheck } from "../lib/bundle";
import { formatDuration, formatTime } from "../lib/format";
import { href } from "../lib/router";
import { Pager } from "../components/Pager";

type LogSummary = components["schemas"]["LogListRead"]["items"][number];
const PAGE = 25;
const FORMATS = ["csv", "json", "ndjson"] as const;

export default function LogsPage({ route }: { route: string[] }) {
  return route[0] ? <LogDetailPage id={route[0]} /> : <LogListPage />;
}

function LogListPage() {
  const [offset, setOffset] = useState(0);
  const [status, setStatus] = useState("");
  const logs = useQuery({
    queryKey: ["logs", offset, status],
    queryFn: () =>
      ok(
        api.GET("/api/v1/guard/logs", {
          params: { query: { limit: PAGE, offset, ...(status ? { status } : {}) } },
        }),
      ),
  });
  const exports = useQuery({
    queryKey: ["exports"],
    queryFn: () => ok(api.GET("/api/v1/logs/exports", { params: { query: { limit: 10 } } })),
  });
  const columns: ColumnDef<LogSummary, unknown>[] = [
    {
      accessorKey: "log_id",
      header: "Log",
      cell: ({ row }) => <a href={href("logs", row.original.log_id)}>{row.original.log_id}</a>,
    },
    { accessorKey: "agent_id", header: "Agent" },
    { accessorKey: "status", header: "Status", cell: ({ getValue }) => <span className={`badge st-${String(getValue())}`}>{String(getValue())}</span> },
    { accessorKey: "total_steps", header: "Steps" },
    { accessorKey: "failure_count", header: "Failures" },
    { accessorKey: "total_duration_ms", header: "Duration", cell: ({ getValue }) => formatDuration(getValue() as number) },
    { accessorKey: "started_at", header: "Started", cell: ({ getValue }) => formatTime(getValue() as string) },
  ];
  const exportQuery = status ? `&status=${encodeURIComponent(status)}` : "";
  return (
    <>
      <div className="page-head">
        <h1>Logs &amp; evidence</h1>
        <div className="actions" role="group" aria-label="Export logs">
          {FORMATS.map((format) => (
            <a
              key={format}
              className="button secondary"
              href={`/api/v1/guard/logs/export?format=${format}&limit=100000${exportQuery}`}
              download={`logs.${format === "ndjson" ? "ndjson" : format}`}
            >
              Export {format.toUpperCase()}
            </a>
          ))}
        </div>
      </div>
      <div className="filters">
        <label>
          Status
          <select value={status} onChange={(e) => { setOffset(0); setStatus(e.target.value); }}>
            <option value="">any</option>
            <option value="completed">completed</option>
            <option value="failed">failed</option>
          </select>
        </label>
      </div>
      {logs.isPending ? (
        <Loading label="logs" />
      ) : logs.isError ? (
        <ErrorState error={logs.error} retry={() => logs.refetch()} />
      ) : logs.data.items.length === 0 ? (
        <Empty title="No logs yet">Every agent run becomes a customer-visible log.</Empty>
      ) : (
        <>
          <DataTable data={logs.data.items} columns={columns} caption="Customer logs" />
          <Pager offset={offset} pageSize={PAGE} shown={logs.data.items.length} total={logs.data.total} onOffset={setOffset} />
        </>
      )}
      <Panel title="Recent exports">
        {exports.isPending ? (
          <Loading label="exports" />
        ) : exports.isError ? (
          <ErrorState error={exports.error} />
        ) : exports.data.length === 0 ? (
          <Empty title="No exports yet" />
        ) : (
          <ul className="plain">
            {exports.data.map((e) => (
              <li key={e.id}>
                {formatTime(e.completed_at)} · {e.format.toUpperCase()} · {e.row_count} rows · by {e.principal_id}{" "}
                <span className="mono muted">sha256 {e.sha256?.slice(0, 12)}…</span>
              </li>
            ))}
          </ul>
        )}
      </Panel>
    </>
  );
}

function LogDetailPage({ id }: { id: string }) {
  const log = useQuery({
    queryKey: ["log", id],
    queryFn: () => ok(api.GET("/api/v1/guard/logs/{log_id}", { params: { path: { log_id: id } } })),
  });
  const [check, setCheck] = useState<BundleCheck | null>(null);
  const [bundleError, setBundleError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const downloadAndVerify = async () => {
    setBusy(true);
    setBundleError(null);
    try {
      const response = await fetch(`/api/v1/guard/logs/${encodeURIComponent(id)}/bundle`, { credentials: "same-origin" });
      if (!response.ok) throw toError(response, await response.json().catch(() => null));
      const bytes = new Uint8Array(await response.arrayBuffer());
      setCheck(await verifyBundle(bytes));
      const url = URL.createObjectURL(new Blob([bytes], { type: "application/zip" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = `evidence_${id}.zip`;
      link.click();
      window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      setBundleError(error instanceof ApiError ? error : new Error("The bundle could not be downloaded."));
    } finally {
      setBusy(false);
    }
  };

  if (log.isPending) return <Loading label="the log" />;
  if (log.isError) return <ErrorState error={log.error} retry={() => log.refetch()} />;
  const detail = log.data;
  return (
    <>
      <div className="page-head">
        <h1>Log {detail.log_id}</h1>
        <a href={href("logs")}>Back to logs</a>
      </div>
      <div className="grid">
        <Panel title="Run">
          <dl className="facts">
            <dt>Run</dt><dd><a href={href("traces", detail.run_id)}>{detail.run_id}</a></dd>
            <dt>Agent</dt><dd>{detail.agent_id ?? "—"}</dd>
            <dt>Status</dt><dd>{detail.status}</dd>
            <dt>Steps</dt><dd>{detail.total_steps} ({detail.failure_count} failed)</dd>
            <dt>Duration</dt><dd>{formatDuration(detail.total_duration_ms)}</dd>
          </dl>
        </Panel>
        <Panel title="Evidence bundle">
          <p>A zip with the trace, steps, integrity, audit proofs and costs; its manifest hashes every file.</p>
          <button type="button" onClick={downloadAndVerify} disabled={busy}>
            {busy ? "Downloading…" : "Download and verify bundle"}
          </button>
          {bundleError !== null && <ErrorState error={bundleError} />}
          {check && (
            <div role="status" data-testid="bundle-check">
              <p className={`verdict ${check.intact ? "ok" : "bad"}`}>
                {check.intact ? "Bundle verified: every file matches its manifest hash" : "Bundle does NOT verify"}
              </p>
              <ul className="plain">
                {check.files.map((f) => (
                  <li key={f.name}>
                    {f.ok ? "✓" : "✗"} {f.name} {f.reason && `— ${f.reason}`}
                  </li>
                ))}
              </ul>
            </div>
          )}
        </Panel>
      </div>
      <Panel title="Steps" className="wide">
        {detail.steps.length === 0 ? (
          <Empty title="No steps" />
        ) : (
          <ol className="plain steps">
            {detail.steps.map((s) => (
              <li key={s.step_index}>
                {s.step_index}. {s.skill_name} — <span className={`badge st-${s.status}`}>{s.status}</span> {s.outcome_category}
                {s.outcome_code ? ` (${s.outcome_code})` : ""} · {formatDuration(s.duration_ms)}
              </li>
            ))}
          </ol>
        )}
      </Panel>
    </>
  );
}
