'use client';

import { type ReactNode, useEffect, useId, useRef, useState } from 'react';
import { errorInfo } from '@/lib/errors';
import { absoluteTime, labelPairs, relativeTime } from '@/lib/format';
import { useNow } from '@/lib/useNow';
import { AlertIcon, CheckIcon, CopyIcon, LockIcon, SortIcon, XIcon } from './icons';

export function Spinner({ label = 'Loading' }: { label?: string }) {
  return (
    <span className="spinner" role="status" aria-label={label}>
      <span className="spinner-dot" />
    </span>
  );
}

/** A quiet placeholder while a panel's first data loads. */
export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="loading" data-testid="loading">
      <Spinner label={label} />
      <span>{label}</span>
    </div>
  );
}

export function StatusBadge({ status }: { status: string }) {
  const tone = status === 'online' ? 'green' : status === 'offline' ? 'red' : 'grey';
  return (
    <span className={`badge badge-${tone}`} data-testid="node-status">
      <span className="badge-dot" aria-hidden="true" />
      {status}
    </span>
  );
}

export function Badge({
  tone = 'grey',
  children,
}: {
  tone?: 'grey' | 'green' | 'red' | 'amber' | 'blue';
  children: ReactNode;
}) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}

export function LabelChips({ labels, max }: { labels: unknown; max?: number }) {
  const pairs = labelPairs(labels);
  if (pairs.length === 0) return <span className="muted">—</span>;
  const shown = max ? pairs.slice(0, max) : pairs;
  return (
    <span className="chips">
      {shown.map((p) => (
        <span key={p} className="chip" title={p}>
          {p}
        </span>
      ))}
      {shown.length < pairs.length && (
        <span className="chip chip-more" title={pairs.slice(shown.length).join('\n')}>
          +{pairs.length - shown.length}
        </span>
      )}
    </span>
  );
}

/** "12 s ago", refreshed every second, with the exact time on hover. */
export function RelativeTime({ iso, testId }: { iso: string | null | undefined; testId?: string }) {
  const now = useNow();
  if (!iso) return <span className="muted">—</span>;
  return (
    <time dateTime={iso} title={absoluteTime(iso)} data-testid={testId}>
      {relativeTime(iso, now)}
    </time>
  );
}

export function EmptyState({
  title,
  children,
  action,
}: {
  title: string;
  children?: ReactNode;
  action?: ReactNode;
}) {
  return (
    <div className="empty" data-testid="empty-state">
      <div className="empty-title">{title}</div>
      {children && <div className="empty-body">{children}</div>}
      {action && <div className="empty-action">{action}</div>}
    </div>
  );
}

/**
 * Shows why a request failed. A refusal is stated plainly ("no permission"), never left as a
 * spinner; outages get a retry button.
 */
export function ErrorState({
  error,
  onRetry,
  what,
}: {
  error: unknown;
  onRetry?: () => void;
  what?: string;
}) {
  const info = errorInfo(error);
  if (info.code === 'FORBIDDEN') {
    return (
      <div className="state state-forbidden" role="alert" data-testid="no-permission">
        <LockIcon size={20} />
        <div>
          <div className="state-title">No permission{what ? ` to view ${what}` : ''}</div>
          <div className="state-body">{info.message}. Ask an administrator for a role that covers it.</div>
        </div>
      </div>
    );
  }
  if (info.code === 'NOT_FOUND') {
    return (
      <div className="state" role="alert" data-testid="not-found">
        <AlertIcon size={20} />
        <div>
          <div className="state-title">Not found</div>
          <div className="state-body">{info.message}</div>
        </div>
      </div>
    );
  }
  return (
    <div className="state state-error" role="alert" data-testid="error-state">
      <AlertIcon size={20} />
      <div>
        <div className="state-title">
          {info.code === 'SERVICE_UNAVAILABLE' || info.code === 'NETWORK'
            ? 'The hub is not answering'
            : `Could not load${what ? ` ${what}` : ''}`}
        </div>
        <div className="state-body">{info.message}</div>
        {onRetry && (
          <button type="button" className="btn btn-small" onClick={onRetry}>
            Retry
          </button>
        )}
      </div>
    </div>
  );
}

export function InlineError({ children, testId }: { children: ReactNode; testId?: string }) {
  return (
    <div className="inline-error" role="alert" data-testid={testId}>
      <AlertIcon size={15} />
      <span>{children}</span>
    </div>
  );
}

/** A column header that sorts on click; announces its state to assistive technology. */
export function SortHeader<K extends string>({
  label,
  column,
  sort,
  direction,
  onSort,
  className,
}: {
  label: string;
  column: K;
  sort: K;
  direction: 'asc' | 'desc';
  onSort: (column: K) => void;
  className?: string;
}) {
  const active = sort === column;
  return (
    <th
      className={className}
      aria-sort={active ? (direction === 'asc' ? 'ascending' : 'descending') : 'none'}
      scope="col"
    >
      <button type="button" className="th-sort" onClick={() => onSort(column)} data-testid={`sort-${column}`}>
        {label}
        <SortIcon size={12} sortDirection={active ? direction : null} />
      </button>
    </th>
  );
}

/** A modal dialog on the native <dialog> element: focus trapping, Escape and backdrop for free. */
export function Dialog({
  open,
  onClose,
  title,
  children,
  footer,
  testId,
  wide,
}: {
  open: boolean;
  onClose: () => void;
  title: string;
  children: ReactNode;
  footer?: ReactNode;
  testId?: string;
  wide?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    // biome-ignore lint/a11y/useKeyWithClickEvents: a click on the backdrop closes; Escape is handled by onCancel
    <dialog
      ref={ref}
      className={`dialog${wide ? ' dialog-wide' : ''}`}
      aria-labelledby={titleId}
      data-testid={testId}
      onClose={onClose}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
      onClick={(e) => {
        if (e.target === ref.current) onClose();
      }}
    >
      {open && (
        <div className="dialog-inner">
          <div className="dialog-head">
            <h2 id={titleId}>{title}</h2>
            <button type="button" className="icon-btn" onClick={onClose} aria-label="Close">
              <XIcon size={16} />
            </button>
          </div>
          <div className="dialog-body">{children}</div>
          {footer && <div className="dialog-foot">{footer}</div>}
        </div>
      )}
    </dialog>
  );
}

/**
 * A read-only code box with a Copy button. Uses the clipboard API where the browser allows it;
 * otherwise selects the text so the user can press Ctrl+C.
 */
export function CopyBox({ text, testId, label }: { text: string; testId?: string; label: string }) {
  const codeRef = useRef<HTMLElement>(null);
  const [state, setState] = useState<'idle' | 'copied' | 'manual'>('idle');
  useEffect(() => {
    if (state !== 'copied') return;
    const t = setTimeout(() => setState('idle'), 2000);
    return () => clearTimeout(t);
  }, [state]);

  const selectAll = () => {
    const el = codeRef.current;
    if (!el) return;
    const range = document.createRange();
    range.selectNodeContents(el);
    const selection = window.getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
  };

  const copy = async () => {
    try {
      if (!navigator.clipboard || !window.isSecureContext) throw new Error('no clipboard');
      await navigator.clipboard.writeText(text);
      setState('copied');
    } catch {
      selectAll();
      // Legacy path for browsers without the async clipboard API on plain HTTP.
      const ok = typeof document.execCommand === 'function' && document.execCommand('copy');
      setState(ok ? 'copied' : 'manual');
    }
  };

  return (
    <div className="copybox">
      <pre className="copybox-code">
        {/* biome-ignore lint/a11y/useKeyWithClickEvents: a convenience for mouse users; keyboard users have the Copy button */}
        <code ref={codeRef} data-testid={testId} onClick={selectAll}>
          {text}
        </code>
      </pre>
      <div className="copybox-bar">
        <span className="copybox-hint" aria-live="polite">
          {state === 'copied'
            ? 'Copied to the clipboard'
            : state === 'manual'
              ? 'Selected — press Ctrl+C to copy'
              : ''}
        </span>
        <button
          type="button"
          className="btn btn-small"
          onClick={copy}
          aria-label={`Copy ${label.toLowerCase()}`}
          data-testid={testId ? `${testId}-copy` : undefined}
        >
          {state === 'copied' ? <CheckIcon size={14} /> : <CopyIcon size={14} />}
          {state === 'copied' ? 'Copied' : 'Copy'}
        </button>
      </div>
    </div>
  );
}

/** Debounces a fast-changing value (search boxes). */
export function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return debounced;
}

/** Rows rendered at first; long tables grow on demand so a 20k-row report stays responsive. */
const RENDER_STEP = 500;

export function useRenderLimit(): { limit: number; more: () => void } {
  const [limit, setLimit] = useState(RENDER_STEP);
  return { limit, more: () => setLimit((l) => l + RENDER_STEP * 4) };
}

/** "Showing N of M" with a button for more; renders nothing when everything is shown. */
export function ShowMore({ limit, total, onMore }: { limit: number; total: number; onMore: () => void }) {
  if (total <= limit) return null;
  return (
    <div className="pager">
      <span className="pager-range muted">
        Showing {limit} of {total}
      </span>
      <button type="button" className="btn btn-small" onClick={onMore}>
        Show more
      </button>
    </div>
  );
}
