'use client';

import { useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { PlusIcon, SearchIcon } from '@/components/icons';
import { EmptyState, useDebounced } from '@/components/ui';
import { useTRPC } from '@/lib/trpc';

/**
 * A search box whose settled value lives in the URL under `value`/`onSettled`: the box answers at
 * once, the URL (and the server query) once typing pauses.
 */
export function useSearchBox(value: string, onSettled: (value: string) => void) {
  const [text, setText] = useState(value);
  const debounced = useDebounced(text.trim(), 300);
  // biome-ignore lint/correctness/useExhaustiveDependencies: only a settled search updates the URL
  useEffect(() => {
    if (debounced !== value) onSettled(debounced);
  }, [debounced]);
  return { text, setText, settled: debounced };
}

export function SearchBox({
  text,
  setText,
  placeholder,
  label,
  testId,
}: {
  text: string;
  setText: (text: string) => void;
  placeholder: string;
  label: string;
  testId: string;
}) {
  return (
    <div className="search">
      <SearchIcon size={15} />
      <input
        type="search"
        placeholder={placeholder}
        aria-label={label}
        value={text}
        onChange={(e) => setText(e.target.value)}
        data-testid={testId}
      />
    </div>
  );
}

/** Whether any scan report is visible (in `cluster`, when set): tells "nothing scanned" from "all clean". */
export function useAnyScans(cluster: string, enabled: boolean) {
  const trpc = useTRPC();
  const q = useQuery({
    ...trpc.vulnerabilities.reports.queryOptions({ ...(cluster ? { cluster } : {}), limit: 1, cursor: 0 }),
    enabled,
    refetchInterval: 10_000,
  });
  // Unknown while loading; after a failure, assume there are scans (the page then says less, not wrong).
  if (q.isError) return true;
  return q.data ? q.data.total > 0 : undefined;
}

export function NoScansYet({ cluster, onScan }: { cluster: string; onScan?: () => void }) {
  return (
    <EmptyState
      title={cluster ? `No scans in ${cluster} yet` : 'No scans yet'}
      action={
        onScan && (
          <button type="button" className="btn btn-primary" onClick={onScan}>
            <PlusIcon size={15} />
            Scan image
          </button>
        )
      }
    >
      No scans yet — scan an image, or enroll a node with running containers: its agent forwards package
      inventories, and the hub's scanners match them against the vulnerability database.
    </EmptyState>
  );
}

export function ClearFilters({ onClear, title }: { onClear: () => void; title: string }) {
  return (
    <EmptyState title={title}>
      <button type="button" className="link-btn" onClick={onClear} data-testid="clear-filters">
        Clear search and filters
      </button>
    </EmptyState>
  );
}
