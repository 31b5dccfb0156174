'use client';

import { keepPreviousData, useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { ErrorState, Loading, SortHeader, Spinner } from '@/components/ui';
import { ClusterFilter, Pager, SeverityBadge, usePaging } from '@/components/vulns';
import { type CveRow, useTRPC } from '@/lib/trpc';
import { useUrlState } from '@/lib/useUrlState';
import { clusterLabel, cvePath, isSeverity, SEVERITIES, type Severity, severityLabel } from '@/lib/vulns';
import { ClearFilters, NoScansYet, SearchBox, useAnyScans, useSearchBox } from './shared';
import type { TabProps } from './VulnerabilitiesView';

const PAGE_SIZE = 50;
const SORTS = ['severity', 'cvss', 'images', 'id'] as const;
type Sort = (typeof SORTS)[number];
/** The API sorts each column one way: worst first, identifiers alphabetically. */
const DIRECTION: Record<Sort, 'asc' | 'desc'> = { severity: 'desc', cvss: 'desc', images: 'desc', id: 'asc' };
const FIX_STATES = ['all', 'yes', 'no'] as const;
type FixState = (typeof FIX_STATES)[number];
const FIX_LABEL: Record<FixState, string> = { all: 'Fixed or not', yes: 'Fixable', no: 'No fix' };

function Chips({ values, max, render }: { values: string[]; max: number; render?: (v: string) => string }) {
  if (values.length === 0) return <span className="muted">—</span>;
  const shown = values.slice(0, max);
  const label = render ?? ((v: string) => v);
  return (
    <span className="chips">
      {shown.map((v) => (
        <span key={v} className="chip" title={label(v)}>
          {label(v)}
        </span>
      ))}
      {values.length > shown.length && (
        <span className="chip chip-more" title={values.slice(max).map(label).join('\n')}>
          +{values.length - shown.length}
        </span>
      )}
    </span>
  );
}

function Row({ cve, onOpen }: { cve: CveRow; onOpen: () => void }) {
  return (
    <tr
      data-testid="cve-row"
      data-cve={cve.id}
      data-severity={cve.severity}
      onClick={(e) => {
        if ((e.target as HTMLElement).closest('a')) return;
        onOpen();
      }}
    >
      <td className="nowrap">
        <Link href={cvePath(cve.id)} className="cell-title mono" data-testid="cve-link">
          {cve.id}
        </Link>
      </td>
      <td>
        <SeverityBadge severity={cve.severity} />
      </td>
      <td className="num" data-testid="cve-cvss">
        {cve.cvss === null ? <span className="muted">—</span> : cve.cvss.toFixed(1)}
      </td>
      <td data-testid="cve-fixable">
        {cve.fixable ? <span className="fix-yes">Fixable</span> : <span className="muted">No fix</span>}
      </td>
      <td className="num" data-testid="cve-images">
        {cve.images}
      </td>
      <td className={`num${cve.workloads ? '' : ' muted'}`} data-testid="cve-workloads">
        {cve.workloads}
      </td>
      <td data-testid="cve-packages">
        <Chips values={[...cve.packages].sort()} max={3} />
      </td>
      <td data-testid="cve-clusters">
        <Chips values={[...cve.clusters].sort()} max={3} render={clusterLabel} />
      </td>
    </tr>
  );
}

/** Vulnerabilities aggregated per identifier over the current reports; sorted, filtered and paged by the server. */
export function CvesTab({ cluster, setCluster, onScan }: TabProps) {
  const trpc = useTRPC();
  const router = useRouter();
  const [state, setState] = useUrlState({ q: '', sev: '', fix: 'all', sort: 'severity' });
  const sort: Sort = (SORTS as readonly string[]).includes(state.sort) ? (state.sort as Sort) : 'severity';
  const severity: Severity | '' = isSeverity(state.sev) ? state.sev : '';
  const fix: FixState = (FIX_STATES as readonly string[]).includes(state.fix)
    ? (state.fix as FixState)
    : 'all';
  const search = useSearchBox(state.q, (q) => setState({ q }));

  const filters = {
    ...(cluster ? { cluster } : {}),
    ...(severity ? { severity } : {}),
    ...(fix !== 'all' ? { fixable: fix === 'yes' } : {}),
    ...(search.settled ? { search: search.settled } : {}),
    sort,
  };
  const paging = usePaging(JSON.stringify(filters));
  const cves = useQuery({
    ...trpc.vulnerabilities.cves.queryOptions({ ...filters, limit: PAGE_SIZE, cursor: paging.cursor }),
    refetchInterval: 15_000,
    placeholderData: keepPreviousData,
  });
  const data = cves.data;
  const filtered = Boolean(severity || fix !== 'all' || search.settled);
  const empty = data?.total === 0;
  const anyScans = useAnyScans(cluster, empty === true && !filtered);

  const clear = () => {
    search.setText('');
    setState({ q: '', sev: '', fix: 'all' });
  };

  return (
    <div data-testid="cves-panel">
      <div className="toolbar toolbar-stack">
        <div className="toolbar-line">
          <SearchBox
            text={search.text}
            setText={search.setText}
            placeholder="Search CVE ID or package"
            label="Search vulnerabilities"
            testId="cve-search"
          />
          <ClusterFilter value={cluster} onChange={setCluster} />
          <fieldset className="segmented">
            <legend className="sr-only">Fix available</legend>
            {FIX_STATES.map((f) => (
              <button
                key={f}
                type="button"
                className={fix === f ? 'active' : ''}
                aria-pressed={fix === f}
                onClick={() => setState({ fix: f })}
                data-testid={`fixable-filter-${f}`}
              >
                {FIX_LABEL[f]}
              </button>
            ))}
          </fieldset>
          <div className="toolbar-meta">
            {cves.isFetching && cves.isPlaceholderData && <Spinner label="Updating" />}
            {data && (
              <span data-testid="cves-total">
                {data.total} vulnerabilit{data.total === 1 ? 'y' : 'ies'}
              </span>
            )}
          </div>
        </div>
        <div className="toolbar-line">
          <span className="toolbar-label" id="severity-filter-label">
            Severity
          </span>
          <fieldset className="segmented" aria-labelledby="severity-filter-label">
            <button
              type="button"
              className={severity === '' ? 'active' : ''}
              aria-pressed={severity === ''}
              onClick={() => setState({ sev: '' })}
              data-testid="severity-filter-all"
            >
              All
            </button>
            {SEVERITIES.map((s) => (
              <button
                key={s}
                type="button"
                className={severity === s ? 'active' : ''}
                aria-pressed={severity === s}
                onClick={() => setState({ sev: s })}
                data-testid={`severity-filter-${s}`}
              >
                <span className={`sev-dot sev-dot-${s}`} aria-hidden="true" />
                {severityLabel(s)}
              </button>
            ))}
          </fieldset>
        </div>
      </div>

      {cves.isPending ? (
        <Loading label="Loading vulnerabilities…" />
      ) : cves.isError && !data ? (
        <ErrorState error={cves.error} onRetry={() => void cves.refetch()} what="vulnerabilities" />
      ) : !data || data.total === 0 ? (
        filtered ? (
          <ClearFilters onClear={clear} title="No vulnerability matches" />
        ) : anyScans === false ? (
          <NoScansYet cluster={cluster} onScan={onScan} />
        ) : anyScans === undefined ? (
          <Loading />
        ) : (
          <div className="empty" data-testid="empty-state">
            <div className="empty-title">No known vulnerabilities</div>
            <div className="empty-body">
              The current scans{cluster ? ` in ${cluster}` : ''} found no package with a known vulnerability.
              See the Images tab for what was scanned.
            </div>
          </div>
        )
      ) : (
        <>
          {cves.isError && <ErrorState error={cves.error} what="the latest vulnerabilities" />}
          <table className="table table-clickable" data-testid="cves-table">
            <thead>
              <tr>
                <SortHeader
                  label="CVE"
                  column="id"
                  sort={sort}
                  direction={DIRECTION.id}
                  onSort={(c) => setState({ sort: c })}
                />
                <SortHeader
                  label="Severity"
                  column="severity"
                  sort={sort}
                  direction={DIRECTION.severity}
                  onSort={(c) => setState({ sort: c })}
                />
                <SortHeader
                  label="CVSS"
                  column="cvss"
                  sort={sort}
                  direction={DIRECTION.cvss}
                  onSort={(c) => setState({ sort: c })}
                  className="num"
                />
                <th scope="col">Fixable</th>
                <SortHeader
                  label="Images"
                  column="images"
                  sort={sort}
                  direction={DIRECTION.images}
                  onSort={(c) => setState({ sort: c })}
                  className="num"
                />
                <th scope="col" className="num">
                  Workloads
                </th>
                <th scope="col">Packages</th>
                <th scope="col">Clusters</th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((cve) => (
                <Row key={cve.id} cve={cve} onOpen={() => router.push(cvePath(cve.id))} />
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
            testId="cves"
          />
        </>
      )}
    </div>
  );
}
