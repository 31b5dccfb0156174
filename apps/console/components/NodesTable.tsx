'use client';

import { keepPreviousData, useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useEffect, useState } from 'react';
import { osLabel } from '@/lib/format';
import { type NodeRow, useTRPC } from '@/lib/trpc';
import { useUrlState } from '@/lib/useUrlState';
import { SearchIcon } from './icons';
import {
  EmptyState,
  ErrorState,
  Loading,
  RelativeTime,
  SortHeader,
  Spinner,
  StatusBadge,
  useDebounced,
} from './ui';

const PAGE_SIZE = 50;
const SORTS = ['hostname', 'status', 'lastHeartbeatAt', 'enrolledAt', 'kernel', 'arch'] as const;
type Sort = (typeof SORTS)[number];
const STATUSES = ['all', 'online', 'offline'] as const;
type StatusFilter = (typeof STATUSES)[number];

export function RuntimeCell({
  node,
}: {
  node: Pick<NodeRow, 'runtimeName' | 'runtimeVersion' | 'runtimeError'>;
}) {
  if (node.runtimeName) {
    return (
      <span>
        {node.runtimeName}
        {node.runtimeVersion && <span className="muted"> {node.runtimeVersion}</span>}
      </span>
    );
  }
  return (
    <span className="muted" title={node.runtimeError ?? 'no container runtime found'}>
      none{node.runtimeError ? ' ⚠' : ''}
    </span>
  );
}

/** Nodes of one cluster: sorted, filtered and paged by the server, refreshed every 2.5 s. */
export function NodesTable({ cluster, onAddNode }: { cluster: string; onAddNode?: () => void }) {
  const trpc = useTRPC();
  const router = useRouter();
  const [state, setState] = useUrlState({ q: '', status: 'all', sort: 'hostname', dir: 'asc' });
  const sort: Sort = (SORTS as readonly string[]).includes(state.sort) ? (state.sort as Sort) : 'hostname';
  const direction = state.dir === 'desc' ? 'desc' : 'asc';
  const status: StatusFilter = (STATUSES as readonly string[]).includes(state.status)
    ? (state.status as StatusFilter)
    : 'all';

  const [search, setSearch] = useState(state.q);
  const debouncedSearch = useDebounced(search.trim(), 300);
  // biome-ignore lint/correctness/useExhaustiveDependencies: only a settled search updates the URL
  useEffect(() => {
    if (debouncedSearch !== state.q) setState({ q: debouncedSearch });
  }, [debouncedSearch]);

  // Offset cursors of the pages before this one, for Prev; any change of view starts over.
  const [cursors, setCursors] = useState<number[]>([]);
  const cursor = cursors.at(-1) ?? 0;
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset paging whenever the view changes
  useEffect(() => setCursors([]), [debouncedSearch, status, sort, direction, cluster]);

  const input = {
    cluster,
    ...(debouncedSearch ? { search: debouncedSearch } : {}),
    ...(status !== 'all' ? { status } : {}),
    sort,
    direction,
    limit: PAGE_SIZE,
    cursor,
  } as const;
  const nodes = useQuery({
    ...trpc.nodes.list.queryOptions(input),
    refetchInterval: 2500,
    placeholderData: keepPreviousData,
  });

  const onSort = (column: Sort) =>
    setState({ sort: column, dir: column === sort && direction === 'asc' ? 'desc' : 'asc' });
  const filtered = Boolean(debouncedSearch) || status !== 'all';
  const data = nodes.data;

  return (
    <div data-testid="nodes-panel">
      <div className="toolbar">
        <div className="search">
          <SearchIcon size={15} />
          <input
            type="search"
            placeholder="Search hostname, node ID or OS"
            aria-label="Search nodes"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            data-testid="node-search"
          />
        </div>
        <fieldset className="segmented">
          <legend className="sr-only">Status filter</legend>
          {STATUSES.map((s) => (
            <button
              key={s}
              type="button"
              className={status === s ? 'active' : ''}
              aria-pressed={status === s}
              onClick={() => setState({ status: s })}
              data-testid={`status-filter-${s}`}
            >
              {s === 'all' ? 'All' : s === 'online' ? 'Online' : 'Offline'}
            </button>
          ))}
        </fieldset>
        <div className="toolbar-meta">
          {nodes.isFetching && nodes.isPlaceholderData && <Spinner label="Updating" />}
          {data && data.total > 0 && (
            <span data-testid="nodes-range">
              {cursor + 1}–{cursor + data.items.length} of {data.total}
            </span>
          )}
        </div>
      </div>

      {nodes.isPending ? (
        <Loading label="Loading nodes…" />
      ) : nodes.isError && !data ? (
        <ErrorState error={nodes.error} onRetry={() => void nodes.refetch()} what="nodes" />
      ) : !data || data.total === 0 ? (
        filtered ? (
          <EmptyState title="No node matches">
            <button
              type="button"
              className="link-btn"
              onClick={() => {
                setSearch('');
                setState({ q: '', status: 'all' });
              }}
            >
              Clear search and filters
            </button>
          </EmptyState>
        ) : (
          <EmptyState
            title="No nodes yet — click Add node"
            action={
              onAddNode && (
                <button type="button" className="btn btn-primary" onClick={onAddNode}>
                  Add node
                </button>
              )
            }
          >
            Add node creates a single-use join token and shows the command to run on the host. Enrolled nodes
            appear here within seconds.
          </EmptyState>
        )
      ) : (
        <>
          {nodes.isError && <ErrorState error={nodes.error} what="the latest node state" />}
          <table className="table table-clickable" data-testid="nodes-table">
            <thead>
              <tr>
                <SortHeader
                  label="Hostname"
                  column="hostname"
                  sort={sort}
                  direction={direction}
                  onSort={onSort}
                />
                <SortHeader
                  label="Status"
                  column="status"
                  sort={sort}
                  direction={direction}
                  onSort={onSort}
                />
                <SortHeader
                  label="Last heartbeat"
                  column="lastHeartbeatAt"
                  sort={sort}
                  direction={direction}
                  onSort={onSort}
                />
                <th scope="col">OS</th>
                <SortHeader
                  label="Kernel"
                  column="kernel"
                  sort={sort}
                  direction={direction}
                  onSort={onSort}
                />
                <SortHeader label="Arch" column="arch" sort={sort} direction={direction} onSort={onSort} />
                <th scope="col">Runtime</th>
                <th scope="col" className="num">
                  Workloads
                </th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((n) => (
                <tr
                  key={n.id}
                  data-testid="node-row"
                  data-node-id={n.id}
                  data-hostname={n.hostname}
                  data-status={n.status}
                  onClick={(e) => {
                    if ((e.target as HTMLElement).closest('a')) return;
                    router.push(`/nodes/${n.id}`);
                  }}
                >
                  <td>
                    <Link href={`/nodes/${n.id}`} className="cell-title">
                      {n.hostname}
                    </Link>
                    <div className="cell-sub mono">{n.id}</div>
                  </td>
                  <td>
                    <StatusBadge status={n.status} />
                  </td>
                  <td className="nowrap">
                    <RelativeTime iso={n.lastHeartbeatAt} testId="node-heartbeat" />
                  </td>
                  <td>{osLabel(n.osName, n.osVersion)}</td>
                  <td className="mono small">{n.kernel}</td>
                  <td>{n.arch}</td>
                  <td>
                    <RuntimeCell node={n} />
                  </td>
                  <td className="num">{n.workloads}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {(cursor > 0 || data.nextCursor !== null) && (
            <div className="pager">
              <button
                type="button"
                className="btn btn-small"
                disabled={cursor === 0}
                onClick={() => setCursors((c) => c.slice(0, -1))}
                data-testid="nodes-prev"
              >
                Previous
              </button>
              <button
                type="button"
                className="btn btn-small"
                disabled={data.nextCursor === null}
                onClick={() => {
                  const next = data.nextCursor;
                  if (next !== null) setCursors((c) => [...c, next]);
                }}
                data-testid="nodes-next"
              >
                Next
              </button>
            </div>
          )}
        </>
      )}
    </div>
  );
}
