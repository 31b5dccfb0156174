'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useEffect, useRef } from 'react';
import { absoluteTime } from '@/lib/format';
import { useTRPC } from '@/lib/trpc';
import { CheckIcon } from './icons';
import { CopyBox, Dialog, ErrorState, Loading, RelativeTime, Spinner } from './ui';

/**
 * Creates a single-use join token as soon as it opens and shows the command to run on the new
 * node; then watches the token until a node has used it.
 */
export function AddNodeDialog({
  cluster,
  open,
  onClose,
}: {
  cluster: string;
  open: boolean;
  onClose: () => void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const create = useMutation(
    trpc.clusters.createJoinToken.mutationOptions({
      onSuccess: () =>
        queryClient.invalidateQueries({ queryKey: trpc.clusters.tokens.queryKey({ cluster }) }),
    }),
  );
  const started = useRef(false);
  const { mutate, reset } = create;

  useEffect(() => {
    if (open && !started.current) {
      started.current = true;
      mutate({ cluster });
    }
    if (!open && started.current) {
      started.current = false;
      reset();
    }
  }, [open, cluster, mutate, reset]);

  const jti = create.data?.view.jti;
  const tokens = useQuery({
    ...trpc.clusters.tokens.queryOptions({ cluster }),
    enabled: open && Boolean(jti),
    refetchInterval: 2000,
  });
  const current = tokens.data?.find((t) => t.jti === jti);

  return (
    <Dialog
      open={open}
      onClose={onClose}
      title={`Add a node to ${cluster}`}
      testId="add-node-dialog"
      wide
      footer={
        <button type="button" className="btn" onClick={onClose} data-testid="add-node-done">
          Done
        </button>
      }
    >
      {create.isPending || create.isIdle ? (
        <Loading label="Creating a join token…" />
      ) : create.isError ? (
        <ErrorState error={create.error} what="join tokens" />
      ) : (
        <div className="join">
          <p className="join-intro">
            Run this command as root on the node. The agent enrolls with the hub, stores its credential and
            keeps reporting from then on.
          </p>
          <CopyBox text={create.data.joinCommand} testId="join-command" label="Join command" />
          <dl className="join-facts">
            <div>
              <dt>Expires</dt>
              <dd data-testid="join-token-expiry">
                <RelativeTime iso={create.data.view.expiresAt} />{' '}
                <span className="muted">({absoluteTime(create.data.view.expiresAt)})</span>
              </dd>
            </div>
            <div>
              <dt>Token ID</dt>
              <dd className="mono" data-testid="join-token-id">
                {create.data.view.jti}
              </dd>
            </div>
          </dl>
          <div className="note" data-testid="single-use-note">
            <strong>Single use.</strong> This token enrolls exactly one node and cannot be shown again. Create
            another token for each further node; revoke it from the Join tokens tab if it leaks.
          </div>
          <div className="join-status" aria-live="polite" data-testid="join-status">
            {current?.usedByNode ? (
              <span className="join-done">
                <CheckIcon size={15} /> Node{' '}
                <Link href={`/nodes/${current.usedByNode}`} className="mono">
                  {current.usedByNode}
                </Link>{' '}
                enrolled with this token.
              </span>
            ) : (
              <span className="muted">
                <Spinner label="Waiting" /> Waiting for a node to use this token…
              </span>
            )}
          </div>
        </div>
      )}
    </Dialog>
  );
}
