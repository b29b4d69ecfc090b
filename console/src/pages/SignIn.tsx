import { useState } from "react";
import { consoleFetch, unwrap } from "../api/client";
import type { SessionInfo } from "../lib/permissions";
import { hashQuery } from "../lib/router";

/** The credential goes to the gateway once; what comes back is an HttpOnly cookie, never kept here. */
export function SignIn({ note, onSignedIn }: { note?: string; onSignedIn: (session: SessionInfo) => void }) {
  const [credential, setCredential] = useState("");
  const [error, setError] = useState<string | null>(
    hashQuery().get("link") === "expired" ? "That sign-in link was already used or has expired." : null,
  );
  const [busy, setBusy] = useState(false);

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const response = await consoleFetch("/console/session", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ credential: credential.trim() }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        const retry = response.headers.get("Retry-After");
        setError(`${body.detail ?? "Sign-in failed."}${retry ? ` Retry in ${retry} s.` : ""}`);
        return;
      }
      setCredential("");
      window.location.hash = "#/";
      onSignedIn(unwrap<SessionInfo>(body));
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : "Sign-in failed.");
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin" id="main">
      <form onSubmit={submit} className="signin-card" aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to AOS</h1>
        <p>
          Paste an API key (<code>aos_…</code>) or a console token. It is exchanged once for a
          session; the console sees what that key may see.
        </p>
        {note && <p className="note" role="status">{note}</p>}
        <label htmlFor="credential">API key or console token</label>
        <input
          id="credential"
          name="credential"
          type="password"
          autoComplete="off"
          spellCheck={false}
          required
          value={credential}
          onChange={(event) => setCredential(event.target.value)}
        />
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || !credential.trim()}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        <p className="hint">
          After <code>make up</code>, open the one-time link it prints, or use the admin key in{" "}
          <code>.aos/credentials.json</code>.
        </p>
      </form>
    </main>
  );
}
