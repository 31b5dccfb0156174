'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useState } from 'react';
import { errorInfo } from '@/lib/errors';
import { type TokenRow, useTRPC } from '@/lib/trpc';
import { useNow } from '@/lib/useNow';
import { Badge, EmptyState, ErrorState, InlineError, Loading, RelativeTime } from './ui';

function tokenState(t: TokenRow, now: number): 'used' | 'revoked' | 'expired' | 'active' {
  if (t.usedAt) return 'used';
  if (t.revokedAt) return 'revoked';
  if (Date.parse(t.expiresAt) <= now) return 'expired';
  return 'active';
}

const TONE = { active: 'blue', used: 'green', revoked: 'red', expired: 'grey' } as const;

function RevokeButton({ cluster, jti }: { cluster: string; jti: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const revoke = useMutation(
    trpc.clusters.revokeToken.mutationOptions({
      onSettled: () =>
        queryClient.invalidateQueries({ queryKey: trpc.clusters.tokens.queryKey({ cluster }) }),
    }),
  );
  if (revoke.isError) return <InlineError>{errorInfo(revoke.error).message}</InlineError>;
  if (!confirming) {
    return (
      <button
        type="button"
        className="btn btn-small btn-danger-ghost"
        onClick={() => setConfirming(true)}
        data-testid="revoke-token"
      >
        Revoke
      </button>
    );
  }
  return (
    <span className="confirm">
      <button
        type="button"
        className="btn btn-small btn-danger"
        disabled={revoke.isPending}
        onClick={() => revoke.mutate({ cluster, jti })}
        data-testid="revoke-token-confirm"
      >
        {revoke.isPending ? 'Revoking…' : 'Confirm revoke'}
      </button>
      <button type="button" className="btn btn-small btn-ghost" onClick={() => setConfirming(false)}>
        Cancel
      </button>
    </span>
  );
}

export function TokensTable({ cluster, canManage }: { cluster: string; canManage: boolean }) {
  const trpc = useTRPC();
  const now = useNow();
  const tokens = useQuery({ ...trpc.clusters.tokens.queryOptions({ cluster }), refetchInterval: 5000 });

  if (tokens.isPending) return <Loading label="Loading join tokens…" />;
  if (tokens.isError)
    return <ErrorState error={tokens.error} onRetry={() => void tokens.refetch()} what="join tokens" />;
  if (tokens.data.length === 0) {
    return (
      <EmptyState title="No join tokens">
        {canManage
          ? 'Click Add node to create a single-use join token.'
          : 'No join token has been created for this cluster.'}
      </EmptyState>
    );
  }
  const rows = [...tokens.data].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return (
    <table className="table" data-testid="tokens-table">
      <thead>
        <tr>
          <th scope="col">Token ID</th>
          <th scope="col">State</th>
          <th scope="col">Created</th>
          <th scope="col">Expires</th>
          <th scope="col">Used by node</th>
          <th scope="col">Revoked</th>
          <th scope="col" className="col-actions">
            <span className="sr-only">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((t) => {
          const state = tokenState(t, now);
          return (
            <tr key={t.jti} data-testid="token-row" data-jti={t.jti} data-state={state}>
              <td className="mono">{t.jti}</td>
              <td>
                <Badge tone={TONE[state]}>{state}</Badge>
              </td>
              <td className="nowrap">
                <RelativeTime iso={t.createdAt} /> <span className="muted">by {t.createdBy}</span>
              </td>
              <td className="nowrap">
                <RelativeTime iso={t.expiresAt} />
              </td>
              <td>
                {t.usedByNode ? (
                  <>
                    <Link href={`/nodes/${t.usedByNode}`} className="mono">
                      {t.usedByNode}
                    </Link>{' '}
                    <span className="muted">
                      <RelativeTime iso={t.usedAt} />
                    </span>
                  </>
                ) : (
                  <span className="muted">—</span>
                )}
              </td>
              <td className="nowrap">
                {t.revokedAt ? <RelativeTime iso={t.revokedAt} /> : <span className="muted">—</span>}
              </td>
              <td className="col-actions">
                {canManage && state === 'active' && <RevokeButton cluster={cluster} jti={t.jti} />}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
