'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useParams } from 'next/navigation';
import type { ReactNode } from 'react';
import { ChevronRightIcon } from '@/components/icons';
import { ErrorState, Loading, RelativeTime, ShowMore, useRenderLimit } from '@/components/ui';
import { SeverityBadge } from '@/components/vulns';
import { type AffectedRow, type CveDetail, useTRPC } from '@/lib/trpc';
import { advisoryLinks, clusterLabel, reportPath, shortDigest } from '@/lib/vulns';
import { WorkloadCell } from '../../ImagesTab';

function Fact({ label, children, testId }: { label: string; children: ReactNode; testId?: string }) {
  return (
    <div className="fact">
      <dt>{label}</dt>
      <dd data-testid={testId}>{children}</dd>
    </div>
  );
}

function ExternalLinks({ ids }: { ids: string[] }) {
  const links = ids.flatMap((id) => advisoryLinks(id).map((l) => ({ ...l, id })));
  if (links.length === 0) return <span className="muted">—</span>;
  return (
    <span className="link-list">
      {links.map((l) => (
        <a key={l.href} href={l.href} target="_blank" rel="noreferrer noopener" data-testid="advisory-link">
          <span className="mono">{l.id}</span> <span className="muted">({l.label})</span> ↗
        </a>
      ))}
    </span>
  );
}

function Facts({ cve }: { cve: CveDetail }) {
  return (
    <dl className="facts" data-testid="cve-facts">
      <Fact label="Severity" testId="cve-severity">
        <SeverityBadge severity={cve.severity} />
      </Fact>
      <Fact label="CVSS" testId="cve-cvss">
        {cve.cvss ? (
          <>
            <strong>{cve.cvss.score.toFixed(1)}</strong>
            {cve.cvss.vector && <div className="cell-sub mono break">{cve.cvss.vector}</div>}
          </>
        ) : (
          <span className="muted">no score in the sources</span>
        )}
      </Fact>
      <Fact label="Aliases" testId="cve-aliases">
        {cve.aliases.length ? (
          <span className="chips">
            {cve.aliases.map((a) => (
              <span key={a} className="chip">
                {a}
              </span>
            ))}
          </span>
        ) : (
          <span className="muted">none</span>
        )}
      </Fact>
      <Fact label="Sources" testId="cve-sources">
        {cve.sources.join(', ') || '—'}
      </Fact>
      <Fact label="Read more" testId="cve-links">
        <ExternalLinks ids={[cve.id, ...cve.aliases]} />
      </Fact>
    </dl>
  );
}

function Stats({ affected }: { affected: AffectedRow[] }) {
  const clusters = new Set(affected.map((a) => a.cluster ?? '')).size;
  const images = new Set(affected.map((a) => a.imageRef)).size;
  const workloads = new Set(affected.filter((a) => a.containerId).map((a) => `${a.nodeId}/${a.containerId}`))
    .size;
  const fixes = [...new Set(affected.map((a) => a.fixedVersion).filter((v): v is string => !!v))];
  return (
    <div className="stats" data-testid="cve-stats">
      <div className="stat">
        <div className="stat-label">Clusters</div>
        <div className="stat-value" data-testid="stat-clusters">
          {clusters}
        </div>
      </div>
      <div className="stat">
        <div className="stat-label">Images</div>
        <div className="stat-value" data-testid="stat-images">
          {images}
        </div>
      </div>
      <div className="stat">
        <div className="stat-label">Workloads</div>
        <div className="stat-value" data-testid="stat-workloads">
          {workloads}
        </div>
      </div>
      <div className="stat">
        <div className="stat-label">Fixed in</div>
        <div className="stat-text" data-testid="stat-fixed">
          {fixes.length ? (
            <span className="mono">
              {fixes.slice(0, 3).join(', ')}
              {fixes.length > 3 ? ` +${fixes.length - 3}` : ''}
            </span>
          ) : (
            <span className="unfixed">no fix released</span>
          )}
        </div>
      </div>
    </div>
  );
}

function Affected({ affected }: { affected: AffectedRow[] }) {
  const { limit, more } = useRenderLimit();
  return (
    <>
      <table className="table" data-testid="affected-table">
        <thead>
          <tr>
            <th scope="col">Cluster</th>
            <th scope="col">Image</th>
            <th scope="col">Workload</th>
            <th scope="col">Package</th>
            <th scope="col">Installed</th>
            <th scope="col">Fixed in</th>
            <th scope="col">Scanned</th>
          </tr>
        </thead>
        <tbody>
          {affected.slice(0, limit).map((a) => (
            <tr
              key={`${a.reportId}/${a.purl}/${a.packageVersion}`}
              data-testid="affected-row"
              data-cluster={a.cluster ?? ''}
              data-image={a.imageRef}
              data-report-id={a.reportId}
            >
              <td className="nowrap" data-testid="affected-cluster">
                {a.cluster ? (
                  <Link href={`/clusters/${a.cluster}`}>{a.cluster}</Link>
                ) : (
                  <span className="muted">{clusterLabel(null)}</span>
                )}
              </td>
              <td>
                <Link
                  href={reportPath(a.reportId)}
                  className="cell-title mono break"
                  data-testid="affected-report"
                >
                  {a.imageRef}
                </Link>
                <div className="cell-sub mono" title={a.imageDigest ?? undefined}>
                  {shortDigest(a.imageDigest)}
                </div>
              </td>
              <td data-testid="affected-workload">
                <WorkloadCell
                  origin={a.containerId ? 'agent' : 'registry'}
                  workloadName={a.workloadName}
                  nodeId={a.nodeId}
                  containerId={a.containerId}
                />
              </td>
              <td>
                <div className="cell-title" title={a.purl}>
                  {a.packageName}
                </div>
                <div className="cell-sub">{a.ecosystem}</div>
              </td>
              <td className="mono small">{a.packageVersion}</td>
              <td className="mono small">{a.fixedVersion ?? <span className="unfixed">unfixed</span>}</td>
              <td className="nowrap">
                <RelativeTime iso={a.scannedAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <ShowMore limit={limit} total={affected.length} onMore={more} />
    </>
  );
}

/** One vulnerability across everything the user can see: where it is, in which package, and the fix. */
export function CveView() {
  const params = useParams<{ id: string }>();
  const id = decodeURIComponent(params.id);
  const trpc = useTRPC();
  const cve = useQuery({ ...trpc.vulnerabilities.cve.queryOptions({ id }), refetchInterval: 30_000 });

  return (
    <div className="page">
      <nav className="breadcrumbs" aria-label="Breadcrumb">
        <Link href="/vulnerabilities">Vulnerabilities</Link>
        <ChevronRightIcon size={13} />
        <span aria-current="page">{id}</span>
      </nav>
      {cve.isPending ? (
        <Loading label="Loading vulnerability…" />
      ) : cve.isError ? (
        <ErrorState error={cve.error} onRetry={() => void cve.refetch()} what={id} />
      ) : (
        <>
          <div className="page-head">
            <div>
              <h1 className="page-title">
                <span className="mono-title" data-testid="cve-title">
                  {cve.data.id}
                </span>
                <SeverityBadge severity={cve.data.severity} />
              </h1>
              <p className="page-sub">
                {cve.data.affected.length} affected package{cve.data.affected.length === 1 ? '' : 's'} in the
                latest scan of each image and workload you can see.
              </p>
            </div>
          </div>
          <Stats affected={cve.data.affected} />
          <div className="panel">
            <Facts cve={cve.data} />
          </div>
          <div className="panel">
            <h2 className="panel-title">Affected images and workloads</h2>
            <Affected affected={cve.data.affected} />
          </div>
        </>
      )}
    </div>
  );
}
