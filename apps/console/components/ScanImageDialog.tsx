'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { errorInfo } from '@/lib/errors';
import { type ScanSummary, useTRPC } from '@/lib/trpc';
import { useNow } from '@/lib/useNow';
import { duration, reportPath, SEVERITIES, severityLabel, shortDigest } from '@/lib/vulns';
import { mayScanHubWide, useMe } from './AppShell';
import { CheckIcon } from './icons';
import { Dialog, InlineError, Spinner } from './ui';

const HUB = '';

/** Turns a failed scan into a sentence that says what to do about it. */
function scanError(
  error: unknown,
  cluster: string,
): { field: string | null; message: string; detail?: string } {
  const info = errorInfo(error);
  const referenceIssue = info.issues.find((i) => i.field === 'reference');
  if (referenceIssue) return { field: 'reference', message: referenceIssue.message };
  switch (info.code) {
    case 'SERVICE_UNAVAILABLE':
      if (/no scanner answered/i.test(info.message)) {
        return {
          field: null,
          message:
            'No scanner answered. Start a Palisade scanner connected to this hub (it needs a vulnerability database), then try again.',
          detail: info.message,
        };
      }
      return { field: null, message: info.message.replace(/^scan failed: /, 'The scan failed: ') };
    case 'FORBIDDEN':
      return {
        field: null,
        message: cluster
          ? `You do not have permission to scan images for cluster "${cluster}".`
          : 'Hub-wide scans need image.scan over every cluster; file the scan under a cluster you manage.',
        detail: info.message,
      };
    case 'BAD_REQUEST':
      return { field: null, message: info.message.replace(/^scan failed: /, '') };
    case 'NETWORK':
      return {
        field: null,
        message: 'The console server cannot be reached. Check your connection and retry.',
      };
    default:
      return { field: null, message: info.message };
  }
}

function Elapsed({ since }: { since: number }) {
  const now = useNow();
  return <span data-testid="scan-elapsed">{Math.max(0, Math.round((now - since) / 1000))} s</span>;
}

function Summary({ summary }: { summary: ScanSummary }) {
  const total = SEVERITIES.reduce((n, s) => n + (summary.counts[s] ?? 0), 0);
  return (
    <div className="scan-summary" data-testid="scan-summary" data-report-id={summary.reportId}>
      <div className="scan-done">
        <CheckIcon size={16} /> Scanned in {duration(summary.scanMillis)}
      </div>
      <dl className="facts facts-tight">
        <div className="fact">
          <dt>Image</dt>
          <dd className="mono break">{summary.imageRef}</dd>
        </div>
        <div className="fact">
          <dt>Digest</dt>
          <dd className="mono nowrap" title={summary.imageDigest ?? undefined}>
            {shortDigest(summary.imageDigest)}
          </dd>
        </div>
        <div className="fact">
          <dt>Packages</dt>
          <dd data-testid="scan-packages">{summary.packageCount}</dd>
        </div>
      </dl>
      <div className="sev-grid" data-testid="scan-counts">
        {SEVERITIES.map((s) => (
          <div
            key={s}
            className={`sev-cell${summary.counts[s] ? ` sev-cell-${s}` : ''}`}
            data-testid={`scan-count-${s}`}
          >
            <div className="sev-cell-value">{summary.counts[s] ?? 0}</div>
            <div className="sev-cell-label">{severityLabel(s)}</div>
          </div>
        ))}
      </div>
      <p className="muted scan-total">
        {total === 0
          ? 'No known vulnerabilities in the packages found.'
          : `${total} finding${total === 1 ? '' : 's'}, ${summary.fixable} with a fix available.`}
      </p>
    </div>
  );
}

/**
 * Scans an image from a registry on one of the hub's scanners. The request waits for the scan (the
 * scanner pulls the image and matches its packages), so the dialog shows the time spent meanwhile.
 */
export function ScanImageDialog({
  open,
  onClose,
  defaultCluster,
}: {
  open: boolean;
  onClose: () => void;
  defaultCluster: string;
}) {
  const trpc = useTRPC();
  const me = useMe();
  const queryClient = useQueryClient();
  const hubAllowed = mayScanHubWide(me);
  const clusters = useQuery({ ...trpc.clusters.list.queryOptions(), enabled: open, staleTime: 30_000 });
  const scannable = (clusters.data ?? [])
    .map((c) => c.name)
    .filter((c) => me.scope.all || me.scope.clusters.includes(c));

  const [reference, setReference] = useState('');
  const [cluster, setCluster] = useState(HUB);
  const [insecure, setInsecure] = useState(false);
  const [startedAt, setStartedAt] = useState(0);
  const inputRef = useRef<HTMLInputElement>(null);

  const scan = useMutation(
    trpc.vulnerabilities.scanImage.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries(trpc.vulnerabilities.pathFilter()),
    }),
  );

  // Each opening starts from the page's cluster filter (or hub-wide, or the first cluster allowed).
  // biome-ignore lint/correctness/useExhaustiveDependencies: only on opening
  useEffect(() => {
    if (!open) return;
    setCluster(defaultCluster || HUB);
  }, [open]);
  // Without hub-wide rights, the first cluster in scope is the default.
  const firstScannable = scannable[0];
  useEffect(() => {
    if (!hubAllowed && cluster === HUB && firstScannable) setCluster(firstScannable);
  }, [hubAllowed, cluster, firstScannable]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const ref = reference.trim();
    if (!ref) return;
    setStartedAt(Date.now());
    scan.mutate({ reference: ref, cluster: cluster || null, insecure });
  };
  const again = () => {
    scan.reset();
    setTimeout(() => inputRef.current?.focus(), 0);
  };
  const close = () => {
    if (!scan.isPending) scan.reset();
    onClose();
  };

  const error = scan.isError ? scanError(scan.error, cluster) : null;
  const canSubmit = !scan.isPending && reference.trim() !== '' && (cluster !== HUB || hubAllowed);

  return (
    <Dialog
      open={open}
      onClose={close}
      title="Scan image"
      testId="scan-image-dialog"
      footer={
        scan.isSuccess ? (
          <>
            <button type="button" className="btn" onClick={again} data-testid="scan-again">
              Scan another
            </button>
            <Link
              href={reportPath(scan.data.reportId)}
              className="btn btn-primary"
              onClick={close}
              data-testid="scan-report-link"
            >
              Open report
            </Link>
          </>
        ) : (
          <>
            <button type="button" className="btn" onClick={close}>
              {scan.isPending ? 'Close' : 'Cancel'}
            </button>
            <button
              type="submit"
              form="scan-image-form"
              className="btn btn-primary"
              disabled={!canSubmit}
              data-testid="scan-submit"
            >
              {scan.isPending ? 'Scanning…' : 'Scan'}
            </button>
          </>
        )
      }
    >
      {scan.isSuccess ? (
        <Summary summary={scan.data} />
      ) : (
        <form id="scan-image-form" onSubmit={submit} className="form" noValidate>
          <label className="field">
            <span className="field-label">Image reference</span>
            <input
              ref={inputRef}
              name="reference"
              value={reference}
              onChange={(e) => {
                setReference(e.target.value);
                if (scan.isError) scan.reset();
              }}
              placeholder="127.0.0.1:5000/alpine:3.11"
              autoComplete="off"
              spellCheck={false}
              disabled={scan.isPending}
              aria-invalid={error?.field === 'reference' ? true : undefined}
              data-testid="scan-reference"
            />
            {error?.field === 'reference' ? (
              <span className="field-error" data-testid="scan-reference-error">
                {error.message}
              </span>
            ) : (
              <span className="field-help">
                registry/repository:tag or @sha256 digest. A hub scanner pulls it and matches its packages.
              </span>
            )}
          </label>
          <label className="field">
            <span className="field-label">File under</span>
            <select
              value={cluster}
              onChange={(e) => setCluster(e.target.value)}
              disabled={scan.isPending}
              data-testid="scan-cluster"
            >
              {hubAllowed && <option value={HUB}>Hub-wide (no cluster)</option>}
              {scannable.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
            <span className="field-help">
              Who may read the report: everyone with access to that cluster, or hub-wide readers only.
            </span>
          </label>
          <label className="check">
            <input
              type="checkbox"
              checked={insecure}
              onChange={(e) => setInsecure(e.target.checked)}
              disabled={scan.isPending}
              data-testid="scan-insecure"
            />
            <span>
              Plain HTTP (insecure registry)
              <span className="field-help"> — also skips TLS verification; for local registries only.</span>
            </span>
          </label>
          {scan.isPending && (
            <div className="scan-progress" role="status" data-testid="scan-progress">
              <Spinner label="Scanning" />
              <span>
                Pulling the image and matching its packages… <Elapsed since={startedAt} />
              </span>
              <div className="progress-bar" aria-hidden="true">
                <span />
              </div>
            </div>
          )}
          {error && error.field === null && (
            <InlineError testId="scan-error">
              {error.message}
              {error.detail && <span className="inline-error-detail">{error.detail}</span>}
            </InlineError>
          )}
        </form>
      )}
    </Dialog>
  );
}
