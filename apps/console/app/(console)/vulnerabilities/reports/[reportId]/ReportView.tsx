'use client';

import { useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useParams } from 'next/navigation';
import { type ReactNode, useMemo, useState } from 'react';
import { AlertIcon, ChevronRightIcon } from '@/components/icons';
import { EmptyState, ErrorState, Loading, RelativeTime, ShowMore, useRenderLimit } from '@/components/ui';
import { SeverityBadge } from '@/components/vulns';
import { absoluteTime } from '@/lib/format';
import { type FindingRow, type ReportDetail, useTRPC } from '@/lib/trpc';
import { useUrlState } from '@/lib/useUrlState';
import {
  clusterLabel,
  cvePath,
  duration,
  isSeverity,
  SEVERITIES,
  type Severity,
  severityLabel,
} from '@/lib/vulns';
import { OriginBadge } from '../../ScansTab';
import { SearchBox, useSearchBox } from '../../shared';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Rows rendered at first; a report can hold thousands of findings. */

function Fact({ label, children, testId }: { label: string; children: ReactNode; testId?: string }) {
  return (
    <div className="fact">
      <dt>{label}</dt>
      <dd data-testid={testId}>{children}</dd>
    </div>
  );
}

function Header({ report }: { report: ReportDetail['report'] }) {
  return (
    <dl className="facts" data-testid="report-facts">
      <Fact label="Image digest" testId="report-digest">
        <span className="mono break">{report.imageDigest ?? '—'}</span>
      </Fact>
      <Fact label="Operating system" testId="report-os">
        {report.osId ? (
          `${report.osId} ${report.osVersion ?? ''}`
        ) : (
          <span className="muted">not detected</span>
        )}
      </Fact>
      <Fact label="Scanned" testId="report-scanned">
        {absoluteTime(report.createdAt)}{' '}
        <span className="muted">
          (<RelativeTime iso={report.createdAt} />)
        </span>
      </Fact>
      <Fact label="Origin" testId="report-origin">
        <OriginBadge origin={report.origin} />{' '}
        <span className="muted">
          {report.origin === 'agent' ? 'inventory from the node' : 'pulled from the registry'}
        </span>
      </Fact>
      <Fact label="Cluster" testId="report-cluster">
        {report.cluster ? (
          <Link href={`/clusters/${report.cluster}`}>{report.cluster}</Link>
        ) : (
          clusterLabel(null)
        )}
      </Fact>
      <Fact label="Workload" testId="report-workload">
        {report.nodeId ? (
          <>
            <Link href={`/nodes/${report.nodeId}`} className="mono">
              {report.nodeId}
            </Link>
            {report.containerId && (
              <div className="cell-sub mono" title={report.containerId}>
                container {report.containerId.slice(0, 12)}
              </div>
            )}
          </>
        ) : (
          <span className="muted">registry scan</span>
        )}
      </Fact>
      <Fact label="Vulnerability DB" testId="report-db">
        #{report.dbSequence} <span className="muted">built {absoluteTime(report.dbBuiltAt)}</span>
      </Fact>
      <Fact label="Packages" testId="report-packages">
        {report.packageCount}
      </Fact>
      <Fact label="Scan time" testId="report-duration">
        {duration(report.scanMillis)}
      </Fact>
    </dl>
  );
}

function Counts({ report }: { report: ReportDetail['report'] }) {
  return (
    <div className="sev-grid sev-grid-page" data-testid="report-counts">
      {SEVERITIES.map((s) => (
        <div
          key={s}
          className={`sev-cell${report[s] ? ` sev-cell-${s}` : ''}`}
          data-testid={`report-count-${s}`}
        >
          <div className="sev-cell-value">{report[s]}</div>
          <div className="sev-cell-label">{severityLabel(s)}</div>
        </div>
      ))}
      <div className="sev-cell sev-cell-fix" data-testid="report-count-fixable">
        <div className="sev-cell-value">{report.fixable}</div>
        <div className="sev-cell-label">Fixable</div>
      </div>
    </div>
  );
}

function matches(f: FindingRow, q: string): boolean {
  if (!q) return true;
  return (
    f.vulnerabilityId.toLowerCase().includes(q) ||
    f.packageName.toLowerCase().includes(q) ||
    f.aliases.some((a) => a.toLowerCase().includes(q))
  );
}

function Findings({ findings }: { findings: FindingRow[] }) {
  const [state, setState] = useUrlState({ sev: '', q: '' });
  const severity: Severity | '' = isSeverity(state.sev) ? state.sev : '';
  const search = useSearchBox(state.q, (q) => setState({ q }));
  const { limit, more } = useRenderLimit();
  const q = search.text.trim().toLowerCase();

  const bySeverity = useMemo(() => {
    const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
    for (const f of findings) if (isSeverity(f.severity)) counts[f.severity]++;
    return counts;
  }, [findings]);
  const rows = useMemo(
    () => findings.filter((f) => (!severity || f.severity === severity) && matches(f, q)),
    [findings, severity, q],
  );

  if (findings.length === 0) {
    return (
      <EmptyState title="No known vulnerabilities">
        None of the packages in this image has a known vulnerability in the database the scanner used.
      </EmptyState>
    );
  }
  return (
    <div data-testid="findings-panel">
      <div className="toolbar toolbar-wrap">
        <SearchBox
          text={search.text}
          setText={search.setText}
          placeholder="Search vulnerability or package"
          label="Search findings"
          testId="finding-search"
        />
        <fieldset className="segmented">
          <legend className="sr-only">Severity</legend>
          <button
            type="button"
            className={severity === '' ? 'active' : ''}
            aria-pressed={severity === ''}
            onClick={() => setState({ sev: '' })}
            data-testid="finding-severity-all"
          >
            All <span className="seg-count">{findings.length}</span>
          </button>
          {SEVERITIES.filter((s) => bySeverity[s] > 0).map((s) => (
            <button
              key={s}
              type="button"
              className={severity === s ? 'active' : ''}
              aria-pressed={severity === s}
              onClick={() => setState({ sev: s })}
              data-testid={`finding-severity-${s}`}
            >
              <span className={`sev-dot sev-dot-${s}`} aria-hidden="true" />
              {severityLabel(s)} <span className="seg-count">{bySeverity[s]}</span>
            </button>
          ))}
        </fieldset>
        <div className="toolbar-meta" data-testid="findings-count">
          {rows.length === findings.length
            ? `${findings.length} finding${findings.length === 1 ? '' : 's'}`
            : `${rows.length} of ${findings.length} findings`}
        </div>
      </div>
      {rows.length === 0 ? (
        <EmptyState title="No finding matches">
          <button
            type="button"
            className="link-btn"
            onClick={() => {
              search.setText('');
              setState({ sev: '', q: '' });
            }}
          >
            Clear search and filters
          </button>
        </EmptyState>
      ) : (
        <>
          <table className="table" data-testid="findings-table">
            <thead>
              <tr>
                <th scope="col">Severity</th>
                <th scope="col">Vulnerability</th>
                <th scope="col">Package</th>
                <th scope="col">Installed</th>
                <th scope="col">Fixed in</th>
                <th scope="col" className="num">
                  CVSS
                </th>
                <th scope="col">Source</th>
              </tr>
            </thead>
            <tbody>
              {rows.slice(0, limit).map((f) => (
                <tr
                  key={f.id}
                  data-testid="finding-row"
                  data-vuln={f.vulnerabilityId}
                  data-package={f.packageName}
                >
                  <td>
                    <SeverityBadge severity={f.severity} />
                  </td>
                  <td>
                    <Link
                      href={cvePath(f.vulnerabilityId)}
                      className="cell-title mono"
                      data-testid="finding-link"
                    >
                      {f.vulnerabilityId}
                    </Link>
                    {f.aliases.length > 0 && <div className="cell-sub mono">{f.aliases.join(', ')}</div>}
                  </td>
                  <td>
                    <div className="cell-title" title={f.purl}>
                      {f.packageName}
                    </div>
                    <div className="cell-sub">{f.ecosystem}</div>
                  </td>
                  <td className="mono small">{f.packageVersion}</td>
                  <td className="mono small" data-testid="finding-fixed">
                    {f.fixedVersion ?? <span className="unfixed">unfixed</span>}
                  </td>
                  <td className="num" title={f.cvssVector ?? undefined}>
                    {f.cvssScore === null ? <span className="muted">—</span> : f.cvssScore.toFixed(1)}
                  </td>
                  <td className="muted small">{f.source}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <ShowMore limit={limit} total={rows.length} onMore={more} />
        </>
      )}
    </div>
  );
}

/** Downloads the report's SBOM, generated by the API from the stored inventory. */
function SbomButtons({ reportId }: { reportId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const download = async (format: 'spdx' | 'cyclonedx') => {
    setBusy(format);
    setError(null);
    try {
      const sbom = await queryClient.fetchQuery(trpc.vulnerabilities.sbom.queryOptions({ reportId, format }));
      const url = URL.createObjectURL(new Blob([sbom.json], { type: 'application/json' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = sbom.filename;
      a.click();
      URL.revokeObjectURL(url);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(null);
    }
  };
  return (
    <div className="page-actions">
      <button
        type="button"
        className="btn"
        disabled={busy !== null}
        onClick={() => void download('spdx')}
        data-testid="sbom-spdx"
      >
        {busy === 'spdx' ? 'Preparing…' : 'SBOM (SPDX 2.3)'}
      </button>
      <button
        type="button"
        className="btn"
        disabled={busy !== null}
        onClick={() => void download('cyclonedx')}
        data-testid="sbom-cyclonedx"
      >
        {busy === 'cyclonedx' ? 'Preparing…' : 'SBOM (CycloneDX 1.6)'}
      </button>
      {error ? (
        <span className="field-error" role="alert">
          {error}
        </span>
      ) : null}
    </div>
  );
}

/** One scan report: what was scanned, with which database, and every finding. */
export function ReportView() {
  const params = useParams<{ reportId: string }>();
  const reportId = decodeURIComponent(params.reportId);
  const trpc = useTRPC();
  const valid = UUID.test(reportId);
  const report = useQuery({ ...trpc.vulnerabilities.report.queryOptions({ reportId }), enabled: valid });

  return (
    <div className="page">
      <nav className="breadcrumbs" aria-label="Breadcrumb">
        <Link href="/vulnerabilities">Vulnerabilities</Link>
        <ChevronRightIcon size={13} />
        <Link href="/vulnerabilities?tab=scans">Scans</Link>
        <ChevronRightIcon size={13} />
        <span aria-current="page">{report.data?.report.imageRef ?? 'Report'}</span>
      </nav>
      {!valid ? (
        <div className="state" role="alert" data-testid="not-found">
          <AlertIcon size={20} />
          <div>
            <div className="state-title">Not found</div>
            <div className="state-body">&quot;{reportId}&quot; is not a scan report ID.</div>
          </div>
        </div>
      ) : report.isPending ? (
        <Loading label="Loading report…" />
      ) : report.isError ? (
        <ErrorState error={report.error} onRetry={() => void report.refetch()} what="this scan report" />
      ) : (
        <>
          <div className="page-head">
            <div>
              <h1 className="page-title">
                <span className="mono-title" data-testid="report-title">
                  {report.data.report.imageRef}
                </span>
                <OriginBadge origin={report.data.report.origin} />
              </h1>
              <p className="page-sub">
                Scan report <span className="mono">{report.data.report.id}</span>
              </p>
            </div>
            <SbomButtons reportId={report.data.report.id} />
          </div>
          <Counts report={report.data.report} />
          <div className="panel">
            <Header report={report.data.report} />
          </div>
          <div className="panel">
            <h2 className="panel-title">Findings</h2>
            <Findings findings={report.data.findings} />
          </div>
        </>
      )}
    </div>
  );
}
