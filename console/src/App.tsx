import { useQueryClient } from "@tanstack/react-query";
import { lazy, Suspense, useCallback, useEffect, useState } from "react";
import { consoleFetch, onSignedOut, unwrap } from "./api/client";
import { Loading } from "./components/States";
import { can, ACTIONS, type SessionInfo } from "./lib/permissions";
import { href, useRoute } from "./lib/router";
import { SessionContext } from "./lib/session";
import { CostPage, prefetchCost } from "./pages/Cost";
import { SignIn } from "./pages/SignIn";

const TracesPage = lazy(() => import("./pages/Traces"));
const LogsPage = lazy(() => import("./pages/Logs"));
const AuditPage = lazy(() => import("./pages/Audit"));
const KeysPage = lazy(() => import("./pages/Keys"));
const BudgetsPage = lazy(() => import("./pages/Budgets"));

const NAV = [
  { path: "", label: "Overview & cost", needs: ACTIONS.readCost },
  { path: "traces", label: "Traces", needs: ACTIONS.readTraces },
  { path: "logs", label: "Logs & evidence", needs: ACTIONS.readLogs },
  { path: "audit", label: "Audit", needs: ACTIONS.readAudit },
  { path: "keys", label: "Keys & access", needs: ACTIONS.readKeys },
  { path: "budgets", label: "Budgets", needs: ACTIONS.readCost },
] as const;

type SessionState = { status: "checking" } | { status: "out"; note?: string } | { status: "in"; session: SessionInfo };

export function App() {
  const [state, setState] = useState<SessionState>({ status: "checking" });
  const queryClient = useQueryClient();

  const check = useCallback(async () => {
    try {
      const response = await consoleFetch("/console/session");
      if (response.ok) {
        setState({ status: "in", session: unwrap<SessionInfo>(await response.json()) });
      } else {
        setState({ status: "out" });
      }
    } catch {
      setState({ status: "out", note: "The gateway cannot be reached; check that the platform is running." });
    }
  }, []);

  useEffect(() => {
    void check();
    return onSignedOut(() => {
      queryClient.clear();
      setState({ status: "out", note: "Your session has ended; sign in again." });
    });
  }, [check, queryClient]);

  const signOut = async () => {
    await consoleFetch("/console/session", { method: "DELETE" });
    queryClient.clear();
    window.location.hash = "#/";
    setState({ status: "out", note: "You are signed out." });
  };

  if (state.status === "checking") return <Loading label="the console" />;
  if (state.status === "out") {
    return (
      <SignIn
        note={state.note}
        onSignedIn={(session) => {
          if (can(session, ACTIONS.readCost)) prefetchCost(queryClient);
          setState({ status: "in", session });
        }}
      />
    );
  }
  return (
    <SessionContext.Provider value={state.session}>
      <Shell session={state.session} onSignOut={signOut} />
    </SessionContext.Provider>
  );
}

function Shell({ session, onSignOut }: { session: SessionInfo; onSignOut: () => void }) {
  const route = useRoute();
  const page = route[0] ?? "";
  const items = NAV.filter((item) => can(session, item.needs));
  return (
    <div className="shell">
      <a className="skip" href="#main" onClick={(event) => {
        event.preventDefault();
        document.getElementById("main")?.focus();
      }}>
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">AOS console</span>
        <span className="who" title={session.tenant_id}>
          {session.tenant_id} · {session.roles.length ? session.roles.join(", ") : session.permissions.join(", ")}
        </span>
        <button type="button" className="secondary" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <nav className="sidenav" aria-label="Console pages">
        <ul>
          {items.map((item) => (
            <li key={item.path}>
              <a href={href(item.path)} aria-current={page === item.path ? "page" : undefined}>
                {item.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<Loading label="the page" />}>
          <Page page={page} route={route} />
        </Suspense>
      </main>
    </div>
  );
}

function Page({ page, route }: { page: string; route: string[] }) {
  switch (page) {
    case "traces":
      return <TracesPage route={route.slice(1)} />;
    case "logs":
      return <LogsPage route={route.slice(1)} />;
    case "audit":
      return <AuditPage />;
    case "keys":
      return <KeysPage />;
    case "budgets":
      return <BudgetsPage />;
    default:
      return <CostPage />;
  }
}
