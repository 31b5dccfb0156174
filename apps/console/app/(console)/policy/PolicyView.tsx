'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Fragment, useLayoutEffect, useState } from 'react';
import { mayWritePolicy, useMe } from '@/components/AppShell';
import { ChevronRightIcon } from '@/components/icons';
import { ModeBadge } from '@/components/ModeBadge';
import { Badge, Dialog, EmptyState, ErrorState, InlineError, Loading } from '@/components/ui';
import { errorInfo } from '@/lib/errors';
import { type Outputs, useTRPC, useTRPCClient } from '@/lib/trpc';
import { useUrlState } from '@/lib/useUrlState';

type Policy = Outputs['policy']['get'];
type Group = Policy['groups'][number];
type Mode = Policy['defaults']['modes']['process'];
const KINDS = ['process', 'file', 'network'] as const;
type Kind = (typeof KINDS)[number];
const MODES: Mode[] = ['discover', 'monitor', 'protect'];

function selectorSummary(selector: Group['selector']): string {
  const parts: string[] = [];
  if (selector.namespace !== undefined) parts.push(`namespace=${selector.namespace}`);
  if (selector.image !== undefined) parts.push(`image=${selector.image}`);
  if (selector.name !== undefined) parts.push(`name=${selector.name}`);
  for (const [k, v] of Object.entries(selector.labels ?? {})) parts.push(`${k}=${v}`);
  return parts.join(' · ');
}

function networkRuleText(rule: Group['network'][number]): string {
  const ports =
    rule.ports === 'any'
      ? 'any port'
      : `port ${rule.ports.map((p) => (typeof p === 'number' ? String(p) : `${p.from}-${p.to}`)).join(',')}`;
  return `allow to ${rule.to}, ${ports}, ${rule.protocol === 'any' ? 'tcp and udp' : rule.protocol}`;
}

function withGroupMode(policy: Policy, group: string, kind: Kind, mode: Mode | ''): Policy {
  return {
    ...policy,
    groups: policy.groups.map((g) => {
      if (g.name !== group) return g;
      const modes = { ...g.modes };
      if (mode === '') delete modes[kind];
      else modes[kind] = mode;
      return { ...g, modes };
    }),
  };
}

function withDefaultMode(policy: Policy, kind: Kind, mode: Mode): Policy {
  return { ...policy, defaults: { modes: { ...policy.defaults.modes, [kind]: mode } } };
}

/** A mode picker; "" (for groups) means "follow the cluster default". */
function ModeSelect({
  value,
  fallback,
  onChange,
  label,
  testId,
}: {
  value: Mode | '';
  fallback?: Mode;
  onChange: (mode: Mode | '') => void;
  label: string;
  testId: string;
}) {
  return (
    <select
      className={`select-compact mode-select mode-${value || 'inherit'}`}
      value={value}
      aria-label={label}
      data-testid={testId}
      onChange={(e) => onChange(e.target.value as Mode | '')}
    >
      {fallback && <option value="">default ({fallback})</option>}
      {MODES.map((m) => (
        <option key={m} value={m}>
          {m}
        </option>
      ))}
    </select>
  );
}

function RuleList({ group }: { group: Group }) {
  const empty = group.process.length + group.file.length + group.network.length === 0;
  if (empty)
    return <p className="muted">No rules: the group relies on its modes and the default protected paths.</p>;
  return (
    <div className="rule-lists" data-testid={`rules-${group.name}`}>
      {group.process.length > 0 && (
        <div>
          <div className="toolbar-label">Process</div>
          <ul className="rule-list">
            {group.process.map((r) => (
              <li key={`${r.action}:${r.path}`}>
                <Badge tone={r.action === 'allow' ? 'green' : 'red'}>{r.action}</Badge>{' '}
                <span className="mono">{r.path}</span>
              </li>
            ))}
          </ul>
        </div>
      )}
      {group.file.length > 0 && (
        <div>
          <div className="toolbar-label">File</div>
          <ul className="rule-list">
            {group.file.map((r) => (
              <li key={`${r.action}:${r.path}`}>
                <Badge tone={r.action === 'allow' ? 'green' : 'red'}>
                  {r.action === 'deny' ? 'protect' : 'unprotect'}
                </Badge>{' '}
                <span className="mono">{r.path}</span> <span className="muted">({r.access})</span>
              </li>
            ))}
          </ul>
        </div>
      )}
      {group.network.length > 0 && (
        <div>
          <div className="toolbar-label">Network</div>
          <ul className="rule-list">
            {group.network.map((r) => {
              const text = networkRuleText(r);
              return (
                <li key={text} className="mono">
                  {text}
                </li>
              );
            })}
          </ul>
        </div>
      )}
    </div>
  );
}

function GroupsTable({
  policy,
  editable,
  onChange,
}: {
  policy: Policy;
  editable: boolean;
  onChange: (next: Policy) => void;
}) {
  const [open, setOpen] = useState<string | null>(null);
  if (policy.groups.length === 0) {
    return (
      <EmptyState title="No groups yet">
        Every container follows the cluster defaults. Add groups with “Edit JSON” or{' '}
        <span className="mono">palisade policy set</span>; Discover mode also proposes rules as it learns.
      </EmptyState>
    );
  }
  return (
    <table className="table" data-testid="groups-table">
      <thead>
        <tr>
          <th scope="col">Group</th>
          <th scope="col">Selector</th>
          <th scope="col" className="num">
            Priority
          </th>
          {KINDS.map((k) => (
            <th scope="col" key={k}>
              {k[0]?.toUpperCase()}
              {k.slice(1)}
            </th>
          ))}
          <th scope="col" className="num" title="process / file / network rules">
            Rules
          </th>
        </tr>
      </thead>
      <tbody>
        {policy.groups.map((g) => {
          const expanded = open === g.name;
          return (
            <Fragment key={g.name}>
              <tr data-testid="group-row" data-group={g.name}>
                <td>
                  <button
                    type="button"
                    className="link-btn expander"
                    aria-expanded={expanded}
                    onClick={() => setOpen(expanded ? null : g.name)}
                    data-testid={`group-toggle-${g.name}`}
                  >
                    <span className={expanded ? 'chev chev-open' : 'chev'}>
                      <ChevronRightIcon size={12} />
                    </span>
                    <span className="cell-title">{g.name}</span>
                  </button>
                </td>
                <td className="mono small break">{selectorSummary(g.selector)}</td>
                <td className="num">{g.priority}</td>
                {KINDS.map((k) => (
                  <td key={k} data-testid={`mode-cell-${g.name}-${k}`}>
                    {editable ? (
                      <ModeSelect
                        value={g.modes[k] ?? ''}
                        fallback={policy.defaults.modes[k]}
                        label={`${k} mode of ${g.name}`}
                        testId={`mode-${g.name}-${k}`}
                        onChange={(mode) => onChange(withGroupMode(policy, g.name, k, mode))}
                      />
                    ) : (
                      <ModeBadge mode={g.modes[k] ?? policy.defaults.modes[k]} inherited={!g.modes[k]} />
                    )}
                  </td>
                ))}
                <td className="num mono">
                  {g.process.length}/{g.file.length}/{g.network.length}
                </td>
              </tr>
              {expanded && (
                <tr className="detail-row">
                  <td colSpan={4 + KINDS.length}>
                    <RuleList group={g} />
                  </td>
                </tr>
              )}
            </Fragment>
          );
        })}
      </tbody>
    </table>
  );
}

/** The proposed policy's changes, from the hub (which also validates it), with Apply and Discard. */
function PendingChanges({
  cluster,
  draft,
  onDiscard,
  onApplied,
  onReload,
}: {
  cluster: string;
  draft: Policy;
  onDiscard: () => void;
  onApplied: () => void;
  onReload: () => void;
}) {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  // A query over a POST procedure: the preview follows the draft and is cached per draft.
  const preview = useQuery({
    queryKey: ['policy-diff', cluster, draft],
    queryFn: () => client.policy.diff.mutate({ cluster, policy: draft }),
    retry: false,
  });
  const apply = useMutation(
    trpc.policy.set.mutationOptions({
      onSuccess: async (stored) => {
        queryClient.setQueryData(trpc.policy.get.queryKey({ cluster }), stored);
        await queryClient.invalidateQueries({ queryKey: trpc.policy.get.queryKey({ cluster }) });
        onApplied();
      },
      // The preview said "up to date" when it was made; show the revision that won instead.
      onError: (error) => {
        if (errorInfo(error).code === 'CONFLICT') void preview.refetch();
      },
    }),
  );
  const conflict =
    (apply.isError && errorInfo(apply.error).code === 'CONFLICT') || (preview.data && !preview.data.upToDate);
  return (
    <section className="panel pending" data-testid="policy-pending">
      <h2 className="panel-title">Pending changes</h2>
      <div className="panel-pad">
        {preview.isPending ? (
          <Loading label="Comparing with the current policy…" />
        ) : preview.isError ? (
          <InlineError testId="policy-invalid">{errorInfo(preview.error).message}</InlineError>
        ) : preview.data.changes.length === 0 ? (
          <p className="muted">No changes from revision {preview.data.currentRevision}.</p>
        ) : (
          <ul className="diff-list" data-testid="policy-diff">
            {preview.data.changes.map((c) => (
              <li key={c.text} className={`diff-${c.change}`}>
                {c.text}
              </li>
            ))}
          </ul>
        )}
        {conflict ? (
          <div className="note conflict" role="alert" data-testid="policy-conflict">
            Someone changed this cluster’s policy since you loaded it
            {preview.data ? ` (it is now at revision ${preview.data.currentRevision})` : ''}, so these changes
            cannot be applied. Reload to see the current policy, then make your changes again.{' '}
            <button type="button" className="btn btn-small" onClick={onReload} data-testid="policy-reload">
              Reload
            </button>
          </div>
        ) : (
          apply.isError && (
            <InlineError testId="policy-apply-error">{errorInfo(apply.error).message}</InlineError>
          )
        )}
        <div className="page-actions">
          <button type="button" className="btn" onClick={onDiscard} data-testid="policy-discard">
            Discard
          </button>
          <button
            type="button"
            className="btn btn-primary"
            disabled={
              apply.isPending || !!conflict || !preview.isSuccess || preview.data.changes.length === 0
            }
            onClick={() => apply.mutate({ cluster, policy: draft })}
            data-testid="policy-apply"
          >
            {apply.isPending ? 'Applying…' : `Apply as revision ${draft.revision + 1}`}
          </button>
        </div>
      </div>
    </section>
  );
}

/** The whole policy as JSON; the hub validates it (through policy.diff) before it becomes the draft. */
function JsonDialog({
  open,
  onClose,
  cluster,
  policy,
  editable,
  onUse,
}: {
  open: boolean;
  onClose: () => void;
  cluster: string;
  policy: Policy;
  editable: boolean;
  onUse: (next: Policy) => void;
}) {
  const client = useTRPCClient();
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);
  // Filled when the dialog opens only: a background refresh must not wipe what the user is typing.
  // A layout effect, so the dialog never paints with an empty editor.
  // biome-ignore lint/correctness/useExhaustiveDependencies: policy is read at opening time on purpose
  useLayoutEffect(() => {
    if (open) {
      setText(JSON.stringify(policy, null, 2));
      setError(null);
    }
  }, [open]);

  const use = async () => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return setError(`not valid JSON: ${(err as Error).message}`);
    }
    setChecking(true);
    try {
      // Validation (and the cluster check) is the hub's; its messages name the field at fault.
      await client.policy.diff.mutate({ cluster, policy: parsed as Policy });
      onUse(parsed as Policy);
      onClose();
    } catch (err) {
      const info = errorInfo(err);
      setError(
        info.issues.length
          ? info.issues
              .map((i) => `${i.field.replace(/^policy\.?/, '') || '(policy)'}: ${i.message}`)
              .join('\n')
          : info.message,
      );
    } finally {
      setChecking(false);
    }
  };

  return (
    <Dialog
      open={open}
      onClose={onClose}
      title={editable ? `Edit policy of ${cluster}` : `Policy of ${cluster}`}
      testId="policy-json-dialog"
      wide
      footer={
        <>
          <button type="button" className="btn" onClick={onClose}>
            {editable ? 'Cancel' : 'Close'}
          </button>
          {editable && (
            <button
              type="button"
              className="btn btn-primary"
              onClick={() => void use()}
              disabled={checking}
              data-testid="policy-json-use"
            >
              {checking ? 'Checking…' : 'Review changes'}
            </button>
          )}
        </>
      }
    >
      <textarea
        className="json-editor mono"
        value={text}
        readOnly={!editable}
        spellCheck={false}
        onChange={(e) => setText(e.target.value)}
        aria-label="Policy JSON"
        data-testid="policy-json"
        rows={24}
      />
      {error && (
        <div className="field-error json-errors" role="alert" data-testid="policy-json-error">
          {error}
        </div>
      )}
      <p className="field-help">
        Keep <span className="mono">revision</span> as it is: the hub refuses a policy based on an older
        revision. Changes are shown for review before anything is applied.
      </p>
    </Dialog>
  );
}

function PolicyEditor({ cluster }: { cluster: string }) {
  const trpc = useTRPC();
  const me = useMe();
  const editable = mayWritePolicy(me, cluster);
  const policy = useQuery({ ...trpc.policy.get.queryOptions({ cluster }), refetchInterval: 15_000 });
  const [draft, setDraft] = useState<Policy | null>(null);
  const [editingJson, setEditingJson] = useState(false);
  const [applied, setApplied] = useState<number | null>(null);

  if (policy.isPending) return <Loading label="Loading policy…" />;
  if (policy.isError) {
    return (
      <ErrorState
        error={policy.error}
        onRetry={() => void policy.refetch()}
        what={`the policy of ${cluster}`}
      />
    );
  }
  const shown = draft ?? policy.data;
  const change = (next: Policy) => {
    setApplied(null);
    setDraft(next);
  };
  const reload = () => {
    setDraft(null);
    void policy.refetch();
  };

  return (
    <>
      <section className="panel">
        <div className="panel-title policy-head">
          <h2 className="policy-heading">Cluster defaults</h2>
          <div className="policy-meta">
            <span data-testid="policy-revision" data-revision={policy.data.revision}>
              Revision {policy.data.revision}
              {policy.data.revision === 0 ? ' (initial)' : ''}
            </span>
            <button
              type="button"
              className="btn btn-small"
              onClick={() => setEditingJson(true)}
              data-testid="edit-json"
            >
              {editable ? 'Edit JSON' : 'View JSON'}
            </button>
          </div>
        </div>
        <div className="panel-pad">
          <p className="muted small">
            Containers no group selects, and groups that leave a kind unset, use these modes.
          </p>
          <dl className="facts policy-defaults" data-testid="policy-defaults">
            {KINDS.map((k) => (
              <div className="fact" key={k}>
                <dt>{k}</dt>
                <dd>
                  {editable ? (
                    <ModeSelect
                      value={shown.defaults.modes[k]}
                      label={`default ${k} mode`}
                      testId={`default-mode-${k}`}
                      onChange={(mode) => mode && change(withDefaultMode(shown, k, mode))}
                    />
                  ) : (
                    <ModeBadge mode={shown.defaults.modes[k]} />
                  )}
                </dd>
              </div>
            ))}
          </dl>
          {!editable && (
            <p className="muted small" data-testid="policy-read-only">
              Read only: changing the policy needs the policy.write permission on {cluster} (admins and
              cluster admins).
            </p>
          )}
          {applied !== null && (
            <p className="policy-applied" role="status" data-testid="policy-applied">
              Applied: the policy is now at revision {applied}; agents receive it from the controllers.
            </p>
          )}
        </div>
      </section>
      {draft && (
        <PendingChanges
          cluster={cluster}
          draft={draft}
          onDiscard={() => setDraft(null)}
          onReload={reload}
          onApplied={() => {
            setApplied(draft.revision + 1);
            setDraft(null);
          }}
        />
      )}
      <section className="panel">
        <h2 className="panel-title">Groups</h2>
        <GroupsTable policy={shown} editable={editable} onChange={change} />
      </section>
      <JsonDialog
        open={editingJson}
        onClose={() => setEditingJson(false)}
        cluster={cluster}
        policy={shown}
        editable={editable}
        onUse={change}
      />
    </>
  );
}

/** The enforcement policy of one cluster (chosen in the URL): modes, groups and their rules. */
export function PolicyView() {
  const trpc = useTRPC();
  const [state, setState] = useUrlState({ cluster: '' });
  const clusters = useQuery(trpc.clusters.list.queryOptions());
  const names = clusters.data?.map((c) => c.name) ?? [];
  const cluster = state.cluster || names[0] || '';

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1 className="page-title">Policy</h1>
          <p className="page-sub">
            Which processes may run, which files may be written and where containers may connect, per group of
            containers. Discover learns, Monitor alerts, Protect blocks.
          </p>
        </div>
        {names.length > 0 && (
          <label className="toolbar-line">
            <span className="toolbar-label">Cluster</span>
            <select
              className="select-compact"
              value={cluster}
              onChange={(e) => setState({ cluster: e.target.value })}
              data-testid="policy-cluster"
            >
              {!names.includes(cluster) && <option value={cluster}>{cluster}</option>}
              {names.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      {clusters.isPending ? (
        <Loading label="Loading clusters…" />
      ) : clusters.isError ? (
        <ErrorState error={clusters.error} onRetry={() => void clusters.refetch()} what="clusters" />
      ) : !cluster ? (
        <EmptyState title="No clusters you can see">
          Policies belong to clusters; ask an administrator for access to one.
        </EmptyState>
      ) : (
        <PolicyEditor key={cluster} cluster={cluster} />
      )}
    </div>
  );
}
