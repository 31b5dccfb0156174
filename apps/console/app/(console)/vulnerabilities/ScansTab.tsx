'use client';

import { keepPreviousData, useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { Badge, ErrorState, Loading, RelativeTime, Spinner } from '@/components/ui';
import { ClusterFilter, Pager, SeverityPills, usePaging } from '@/components/vulns';
import { type ReportRow, useTRPC } from '@/lib/trpc';
import { useUrlState } from '@/lib/useUrlState';
import { clusterLabel, duration, reportPath, shortDigest } from '@/lib/vulns';
import { ClearFilters, NoScansYet, SearchBox, useSearchBox } from './shared';
import type { TabProps } from './VulnerabilitiesView';

const PAGE_SIZE = 50;
const ORIGINS = ['all', 'registry', 'agent'] as const;
type Origin = (typeof ORIGINS)[number];
const ORIGIN_LABEL: Record<Origin, string> = { all: 'All', registry: 'Registry', agent: 'Agent' };

export function OriginBadge({ origin }: { origin: string }) {
  return (
    <Badge tone={origin === 'agent' ? 'blue' : 'grey'}>
      {origin === 'agent' ? 'agent' : origin === 'registry' ? 'registry' : origin}
    </Badge>
  );
}

function Row({ r, onOpen }: { r: ReportRow; onOpen: () => void }) {
  return (
    <tr
      data-testid="scan-row"
      data-report-id={r.id}
      data-image={r.imageRef}
      data-origin={r.origin}
      onClick={(e) => {
        if ((e.target as HTMLElement).closest('a')) return;
        onOpen();
      }}
    >
      <td className="nowrap">
        <RelativeTime iso={r.createdAt} />
      </td>
      <td>
        <Link href={reportPath(r.id)} className="cell-title mono ref">
          {r.imageRef}
        </Link>
        <div className="cell-sub mono" title={r.imageDigest ?? undefined}>
          {shortDigest(r.imageDigest)}
        </div>
      </td>
      <td className="nowrap">
        <OriginBadge origin={r.origin} />
        {r.nodeId && (
          <div className="cell-sub" title={r.containerId ? `container ${r.containerId}` : undefined}>
            on{' '}
            <Link href={`/nodes/${r.nodeId}`} className="mono">
              {r.nodeId}
            </Link>
          </div>
        )}
      </td>
      <td className="nowrap">
        {r.cluster ? (
          <Link href={`/clusters/${r.cluster}`}>{r.cluster}</Link>
        ) : (
          <span className="muted">{clusterLabel(null)}</span>
        )}
      </td>
      <td className="nowrap">
        {r.osId ? `${r.osId} ${r.osVersion ?? ''}` : <span className="muted">—</span>}
      </td>
      <td className="num">{r.packageCount}</td>
      <td>
        <SeverityPills counts={r} />
      </td>
      <td className="num">{r.fixable}</td>
      <td className="num nowrap muted">{duration(r.scanMillis)}</td>
    </tr>
  );
}

/** Every scan report, newest first, including the ones a newer scan has replaced. */
export function ScansTab({ cluster, setCluster, onScan }: TabProps) {
  const trpc = useTRPC();
  const router = useRouter();
  const [state, setState] = useUrlState({ image: '', origin: 'all' });
  const origin: Origin = (ORIGINS as readonly string[]).includes(state.origin)
    ? (state.origin as Origin)
    : 'all';
  const search = useSearchBox(state.image, (image) => setState({ image }));
  const filters = {
    ...(cluster ? { cluster } : {}),
    ...(search.settled ? { search: search.settled } : {}),
    ...(origin !== 'all' ? { origin } : {}),
  };
  const paging = usePaging(JSON.stringify(filters));
  const reports = useQuery({
    ...trpc.vulnerabilities.reports.queryOptions({ ...filters, limit: PAGE_SIZE, cursor: paging.cursor }),
    refetchInterval: 10_000,
    placeholderData: keepPreviousData,
  });
  const data = reports.data;
  const filtered = Boolean(search.settled) || origin !== 'all';

  return (
    <div data-testid="scans-panel">
      <div className="toolbar">
        <SearchBox
          text={search.text}
          setText={search.setText}
          placeholder="Search image reference"
          label="Search scans"
          testId="scan-search"
        />
        <ClusterFilter value={cluster} onChange={setCluster} />
        <fieldset className="segmented">
          <legend className="sr-only">Origin</legend>
          {ORIGINS.map((o) => (
            <button
              key={o}
              type="button"
              className={origin === o ? 'active' : ''}
              aria-pressed={origin === o}
              onClick={() => setState({ origin: o })}
              data-testid={`origin-filter-${o}`}
            >
              {ORIGIN_LABEL[o]}
            </button>
          ))}
        </fieldset>
        <div className="toolbar-meta">
          {reports.isFetching && reports.isPlaceholderData && <Spinner label="Updating" />}
          {data && (
            <span data-testid="scans-total">
              {data.total} scan{data.total === 1 ? '' : 's'}
            </span>
          )}
        </div>
      </div>
      {reports.isPending ? (
        <Loading label="Loading scans…" />
      ) : reports.isError && !data ? (
        <ErrorState error={reports.error} onRetry={() => void reports.refetch()} what="scans" />
      ) : !data || data.total === 0 ? (
        filtered ? (
          <ClearFilters
            title="No scan matches"
            onClear={() => {
              search.setText('');
              setState({ image: '', origin: 'all' });
            }}
          />
        ) : (
          <NoScansYet cluster={cluster} onScan={onScan} />
        )
      ) : (
        <>
          {reports.isError && <ErrorState error={reports.error} what="the latest scans" />}
          <table className="table table-clickable" data-testid="scans-table">
            <thead>
              <tr>
                <th scope="col">Scanned</th>
                <th scope="col">Image</th>
                <th scope="col">Origin</th>
                <th scope="col">Cluster</th>
                <th scope="col">OS</th>
                <th scope="col" className="num">
                  Packages
                </th>
                <th scope="col" title="Findings by severity: critical, high, medium, low">
                  Findings
                </th>
                <th scope="col" className="num">
                  Fixable
                </th>
                <th scope="col" className="num">
                  Took
                </th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((r) => (
                <Row key={r.id} r={r} onOpen={() => router.push(reportPath(r.id))} />
              ))}
            </tbody>
          </table>
          <Pager
            cursor={paging.cursor}
            count={data.items.length}
            total={data.total}
            nextCursor={data.nextCursor}
            onPrev={paging.prev}
            onNext={paging.next}
            testId="scans"
          />
        </>
      )}
    </div>
  );
}
