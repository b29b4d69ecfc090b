import { useEffect, useState } from "react";
import { ApiError } from "../api/client";

export function Loading({ label }: { label: string }) {
  return (
    <div className="state loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> Loading {label}…
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: React.ReactNode }) {
  return (
    <div className="state empty">
      <p className="state-title">{title}</p>
      {children && <p>{children}</p>}
    </div>
  );
}

function useCountdown(seconds: number | null): number | null {
  const [left, setLeft] = useState(seconds);
  useEffect(() => {
    setLeft(seconds);
    if (seconds === null) return;
    const timer = window.setInterval(() => setLeft((value) => (value ? value - 1 : 0)), 1000);
    return () => window.clearInterval(timer);
  }, [seconds]);
  return left;
}

/** A failed load: the API's own sentence, and for 429/503 when to retry (with a countdown). */
export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  const apiError = error instanceof ApiError ? error : null;
  const busy = apiError && (apiError.status === 429 || apiError.status === 503);
  const left = useCountdown(busy ? apiError.retryAfterSeconds : null);
  const message = error instanceof Error ? error.message : "Something went wrong.";
  return (
    <div className="state error" role="alert">
      <p className="state-title">
        {apiError?.status === 403 ? "Not allowed" : busy ? "Busy right now" : "Could not load"}
      </p>
      <p>{message}</p>
      {busy && left !== null && (
        <p className="retry-time">
          {left > 0 ? `You can retry in ${left} s.` : "You can retry now."}
        </p>
      )}
      {retry && (
        <button type="button" onClick={retry} disabled={!!busy && !!left}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Panel({
  title,
  children,
  actions,
  className,
}: {
  title: string;
  children: React.ReactNode;
  actions?: React.ReactNode;
  className?: string;
}) {
  return (
    <section className={`panel ${className ?? ""}`} aria-label={title}>
      <header className="panel-head">
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}
