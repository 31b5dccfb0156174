'use client';

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { errorInfo } from '@/lib/errors';
import { parseLabels } from '@/lib/format';
import { type Outputs, useTRPC } from '@/lib/trpc';
import { Dialog, InlineError } from './ui';

const NAME_RULE = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;

export function CreateClusterDialog({
  open,
  onClose,
  onCreated,
}: {
  open: boolean;
  onClose: () => void;
  onCreated: (cluster: Outputs['clusters']['create']) => void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [labelsText, setLabelsText] = useState('');
  const [touched, setTouched] = useState(false);

  const create = useMutation(
    trpc.clusters.create.mutationOptions({
      onSuccess: async (cluster) => {
        await queryClient.invalidateQueries({ queryKey: trpc.clusters.list.queryKey() });
        setName('');
        setDescription('');
        setLabelsText('');
        setTouched(false);
        onCreated(cluster);
      },
    }),
  );

  // Local checks only catch typing slips early; the API's own validation is what counts and its
  // messages are shown next to the field they concern.
  const parsedLabels = parseLabels(labelsText);
  const localNameError =
    touched && name && !NAME_RULE.test(name)
      ? 'cluster names are 1-40 lowercase letters, digits or dashes'
      : null;
  const localLabelsError = 'error' in parsedLabels ? parsedLabels.error : null;

  const info = create.isError ? errorInfo(create.error) : null;
  // "labels.bad key!: invalid label key" is shown under Labels as `"bad key!": invalid label key`.
  const fieldIssue = (field: string) =>
    info?.issues
      .filter((i) => i.field === field || i.field.startsWith(`${field}.`))
      .map((i) => (i.field === field ? i.message : `"${i.field.slice(field.length + 1)}": ${i.message}`))
      .join('; ') || null;
  const nameError = localNameError ?? fieldIssue('name');
  const descriptionError = fieldIssue('description');
  const labelsError = localLabelsError ?? fieldIssue('labels');
  const generalError =
    info &&
    (info.issues.length === 0 ||
      info.issues.every((i) => !['name', 'description', 'labels'].includes(i.field.split('.')[0] ?? '')))
      ? info.message
      : null;

  // The API's verdict is about the input that was sent; editing the form clears it.
  const edited = (set: (value: string) => void, value: string) => {
    set(value);
    if (create.isError) create.reset();
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if ('error' in parsedLabels) return;
    create.mutate({ name: name.trim(), description: description.trim(), labels: parsedLabels.labels });
  };

  const close = () => {
    create.reset();
    onClose();
  };

  return (
    <Dialog
      open={open}
      onClose={close}
      title="Create cluster"
      testId="create-cluster-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={close}>
            Cancel
          </button>
          <button
            type="submit"
            form="create-cluster-form"
            className="btn btn-primary"
            disabled={create.isPending || !name.trim()}
            data-testid="create-cluster-submit"
          >
            {create.isPending ? 'Creating…' : 'Create cluster'}
          </button>
        </>
      }
    >
      <form id="create-cluster-form" onSubmit={submit} className="form" noValidate>
        <label className="field">
          <span className="field-label">Name</span>
          <input
            name="name"
            value={name}
            onChange={(e) => edited(setName, e.target.value)}
            onBlur={() => setTouched(true)}
            placeholder="prod-eu-west"
            autoComplete="off"
            spellCheck={false}
            aria-invalid={nameError ? true : undefined}
            data-testid="cluster-name-input"
            autoFocus
          />
          {nameError ? (
            <span className="field-error" data-testid="cluster-name-error">
              {nameError}
            </span>
          ) : (
            <span className="field-help">
              Lowercase letters, digits and dashes; used in join commands and URLs.
            </span>
          )}
        </label>
        <label className="field">
          <span className="field-label">
            Description <span className="muted">(optional)</span>
          </span>
          <input
            name="description"
            value={description}
            onChange={(e) => edited(setDescription, e.target.value)}
            maxLength={500}
            placeholder="Production, EU West"
            data-testid="cluster-description-input"
          />
          {descriptionError && <span className="field-error">{descriptionError}</span>}
        </label>
        <label className="field">
          <span className="field-label">
            Labels <span className="muted">(optional)</span>
          </span>
          <textarea
            name="labels"
            rows={3}
            value={labelsText}
            onChange={(e) => edited(setLabelsText, e.target.value)}
            placeholder={'env=prod\nregion=eu-west-1'}
            spellCheck={false}
            aria-invalid={labelsError ? true : undefined}
            data-testid="cluster-labels-input"
          />
          {labelsError ? (
            <span className="field-error" data-testid="cluster-labels-error">
              {labelsError}
            </span>
          ) : (
            <span className="field-help">One key=value per line (or comma-separated).</span>
          )}
        </label>
        {generalError && <InlineError testId="create-cluster-error">{generalError}</InlineError>}
      </form>
    </Dialog>
  );
}
