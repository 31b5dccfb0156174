'use client';

import { keepPreviousData, useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { ErrorState, Loading, RelativeTime, Spinner } from '@/components/ui';
import { ClusterFilter, Pager, SeverityPills, usePaging } from '@/components/vulns';
import { type ImageReportRow, useTRPC } from '@/lib/trpc';
import { useUrlState } from '@/lib/useUrlState';
import { clusterLabel, reportPath, shortDigest } from '@/lib/vulns';
import { ClearFilters, NoScansYet, SearchBox, useSearchBox } from './shared';
import type { TabProps } from './VulnerabilitiesView';

const PAGE_SIZE = 50;

/** Who the report is about: a workload on a node (agent scans), or an image pulled from a registry. */
export function WorkloadCell({
  origin,
  workloadName,
  nodeId,
  containerId,
}: {
  origin: string;
  workloadName: string | null;
  nodeId: string | null;
  containerId: string | null;
}) {
  if (!containerId) {
    return <span className="muted">{origin === 'registry' ? 'registry scan' : '—'}</span>;
  }
  return (
    <>
      <div className="cell-title" title={containerId}>
        {workloadName ?? containerId.slice(0, 12)}
      </div>
      {nodeId && (
        <div className="cell-sub">
          on{' '}
          <Link href={`/nodes/${nodeId}`} className="mono">
            {nodeId}
          </Link>
        </div>
      )}
    </>
  );
}

function Row({ r, onOpen }: { r: ImageReportRow; onOpen: () => void }) {
  return (
    <tr
      data-testid="image-row"
      data-image={r.imageRef}
      data-report-id={r.id}
      data-cluster={r.cluster ?? ''}
      onClick={(e) => {
        if ((e.target as HTMLElement).closest('a')) return;
        onOpen();
      }}
    >
      <td>
        <Link href={reportPath(r.id)} className="cell-title mono ref" data-testid="image-link">
          {r.imageRef}
        </Link>
        <div className="cell-sub mono" title={r.imageDigest ?? undefined}>
          {shortDigest(r.imageDigest)}
        </div>
      </td>
      <td className="nowrap" data-testid="image-cluster">
        {r.cluster ? (
          <Link href={`/clusters/${r.cluster}`}>{r.cluster}</Link>
        ) : (
          <span className="muted">{clusterLabel(null)}</span>
        )}
      </td>
      <td data-testid="image-workload">
        <WorkloadCell
          origin={r.origin}
          workloadName={r.workloadName}
          nodeId={r.nodeId}
          containerId={r.containerId}
        />
      </td>
      <td className="nowrap">
        <RelativeTime iso={r.scannedAt} testId="image-scanned" />
      </td>
      <td className="num">{r.packageCount}</td>
      <td>
        <SeverityPills counts={r.counts} />
      </td>
      <td className="num" data-testid="image-fixable">
        {r.fixable}
      </td>
    </tr>
  );
}

/** The current report of every image and workload (older reports are history: see Scans). */
export function ImagesTab({ cluster, setCluster, onScan }: TabProps) {
  const trpc = useTRPC();
  const router = useRouter();
  const [state, setState] = useUrlState({ image: '' });
  const search = useSearchBox(state.image, (image) => setState({ image }));
  const filters = { ...(cluster ? { cluster } : {}), ...(search.settled ? { search: search.settled } : {}) };
  const paging = usePaging(JSON.stringify(filters));
  const images = useQuery({
    ...trpc.vulnerabilities.images.queryOptions({ ...filters, limit: PAGE_SIZE, cursor: paging.cursor }),
    refetchInterval: 10_000,
    placeholderData: keepPreviousData,
  });
  const data = images.data;

  return (
    <div data-testid="images-panel">
      <div className="toolbar">
        <SearchBox
          text={search.text}
          setText={search.setText}
          placeholder="Search image reference"
          label="Search images"
          testId="image-search"
        />
        <ClusterFilter value={cluster} onChange={setCluster} />
        <div className="toolbar-meta">
          {images.isFetching && images.isPlaceholderData && <Spinner label="Updating" />}
          {data && (
            <span data-testid="images-total">
              {data.total} image{data.total === 1 ? '' : 's'} and workload{data.total === 1 ? '' : 's'}
            </span>
          )}
        </div>
      </div>
      {images.isPending ? (
        <Loading label="Loading images…" />
      ) : images.isError && !data ? (
        <ErrorState error={images.error} onRetry={() => void images.refetch()} what="scanned images" />
      ) : !data || data.total === 0 ? (
        search.settled ? (
          <ClearFilters
            title="No image matches"
            onClear={() => {
              search.setText('');
              setState({ image: '' });
            }}
          />
        ) : (
          <NoScansYet cluster={cluster} onScan={onScan} />
        )
      ) : (
        <>
          {images.isError && <ErrorState error={images.error} what="the latest reports" />}
          <table className="table table-clickable" data-testid="images-table">
            <thead>
              <tr>
                <th scope="col">Image</th>
                <th scope="col">Cluster</th>
                <th scope="col">Workload</th>
                <th scope="col">Scanned</th>
                <th scope="col" className="num">
                  Packages
                </th>
                <th scope="col" title="Findings by severity: critical, high, medium, low">
                  Findings
                </th>
                <th scope="col" className="num">
                  Fixable
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
            testId="images"
          />
        </>
      )}
    </div>
  );
}
