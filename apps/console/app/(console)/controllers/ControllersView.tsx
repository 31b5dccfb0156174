'use client';

import { useQuery } from '@tanstack/react-query';
import { Badge, EmptyState, ErrorState, Loading, RelativeTime } from '@/components/ui';
import { bytes } from '@/lib/format';
import { type Outputs, useTRPC } from '@/lib/trpc';

type Controller = Outputs['system']['controllers'][number];

const ROLE_TONE = { leader: 'green', follower: 'blue', candidate: 'amber', standalone: 'grey' } as const;

/** A follower's lag as the leader sees it; the leader knows every follower's match index. */
function lagOf(c: Controller, leader: Controller | undefined): number | undefined {
  if (c.role === 'leader' || c.raftId === undefined) return c.role === 'leader' ? 0 : undefined;
  return leader?.followers?.[String(c.raftId)]?.lag;
}

/** Majority health: how many voters answered, out of the group size the leader reports. */
function quorumText(all: Controller[], leader: Controller | undefined): string {
  if (!leader?.followers) return `${all.length} answering`;
  const size = Object.keys(leader.followers).length + 1;
  return `${all.length} of ${size} answering (a majority is ${Math.floor(size / 2) + 1})`;
}

export function ControllersView() {
  const trpc = useTRPC();
  const controllers = useQuery({ ...trpc.system.controllers.queryOptions(), refetchInterval: 2000 });
  const all = [...(controllers.data ?? [])].sort((a, b) => (a.raftId ?? 0) - (b.raftId ?? 0));
  const leaders = all.filter((c) => c.role === 'leader');
  const leader = leaders.sort((a, b) => b.term - a.term)[0];
  // Replicas the leader replicates to but that did not answer (down, partitioned, starting).
  const answering = new Set(all.map((c) => String(c.raftId)));
  const silent = Object.entries(leader?.followers ?? {}).filter(([id]) => !answering.has(id));

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1 className="page-title">Controllers</h1>
          <p className="page-sub">
            The replicated controllers that hold desired state: each replica's role, term and how far it lags
            the leader. Refreshed every 2 seconds.
          </p>
        </div>
      </div>

      {controllers.isPending ? (
        <Loading label="Asking every controller…" />
      ) : controllers.isError ? (
        <ErrorState error={controllers.error} onRetry={() => void controllers.refetch()} what="controllers" />
      ) : all.length === 0 ? (
        <EmptyState title="No controller answered">
          The console could not reach any controller over NATS. Check that the controllers are running.
        </EmptyState>
      ) : (
        <>
          <div className="panel panel-pad" data-testid="controllers-summary">
            {leader ? (
              <span>
                Leader <strong data-testid="controllers-leader">{leader.id}</strong>
                {leader.raftId !== undefined && ` (Raft id ${leader.raftId})`} in term {leader.term} ·{' '}
                {quorumText(all, leader)}
              </span>
            ) : (
              <span data-testid="controllers-no-leader">
                <Badge tone="red">no leader</Badge> An election is in progress or a majority is unreachable;
                changes are refused until a leader is elected.
              </span>
            )}
          </div>
          <div className="panel">
            <table className="table" data-testid="controllers-table">
              <caption className="sr-only">Controller replicas</caption>
              <thead>
                <tr>
                  <th>Controller</th>
                  <th>Role</th>
                  <th className="num">Term</th>
                  <th className="num">Applied index</th>
                  <th className="num">Lag (entries)</th>
                  <th className="num">Snapshot</th>
                  <th className="num">Event-loop stall (1 min)</th>
                  <th className="num">Memory</th>
                  <th>Started</th>
                  <th>Dropped inputs</th>
                </tr>
              </thead>
              <tbody>
                {all.map((c) => {
                  const lag = lagOf(c, leader);
                  const dropped = Object.entries(c.dropped).filter(([, n]) => n > 0);
                  return (
                    <tr key={c.id} data-testid="controller-row" data-role={c.role}>
                      <td>
                        <div className="cell-title">{c.id}</div>
                        {c.raftId !== undefined && <div className="cell-sub">Raft id {c.raftId}</div>}
                      </td>
                      <td>
                        <Badge tone={ROLE_TONE[c.role]}>{c.role}</Badge>
                      </td>
                      <td className="num" data-testid="controller-term">
                        {c.term}
                      </td>
                      <td className="num">{c.appliedIndex}</td>
                      <td className="num" data-testid="controller-lag">
                        {lag === undefined ? '—' : lag}
                      </td>
                      <td className="num">
                        {c.snapshotBytes ? bytes(c.snapshotBytes) : c.snapshotBytes === 0 ? 'none yet' : '—'}
                      </td>
                      <td className="num">
                        {c.eventLoopMaxMs === undefined ? '—' : `${c.eventLoopMaxMs} ms`}
                      </td>
                      <td className="num">{c.rssBytes === undefined ? '—' : bytes(c.rssBytes)}</td>
                      <td>
                        <RelativeTime iso={c.startedAt} />
                      </td>
                      <td>
                        {dropped.length === 0
                          ? 'none'
                          : dropped.map(([reason, n]) => `${reason}: ${n}`).join(', ')}
                      </td>
                    </tr>
                  );
                })}
                {silent.map(([id, f]) => (
                  <tr key={`silent-${id}`} data-testid="controller-row" data-role="not-answering">
                    <td>
                      <div className="cell-title">Raft id {id}</div>
                      <div className="cell-sub">known to the leader</div>
                    </td>
                    <td>
                      <Badge tone="red">not answering</Badge>
                    </td>
                    <td className="num">—</td>
                    <td className="num">{f.match}</td>
                    <td className="num" data-testid="controller-lag">
                      {f.lag}
                    </td>
                    <td className="num">—</td>
                    <td className="num">—</td>
                    <td className="num">—</td>
                    <td>—</td>
                    <td>—</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </div>
  );
}
