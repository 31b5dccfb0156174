'use client';

import { useSearchParams } from 'next/navigation';
import { useCallback, useMemo } from 'react';

/**
 * Page state kept in the URL's query string, so filters and sort orders survive reloads, links and
 * the back button. Values equal to their default are left out of the URL.
 *
 * Updates go through the native `history.replaceState`, which Next's router picks up (useSearchParams
 * follows it): the URL changes at once, so updates made in quick succession — a tab click while a
 * search box's debounced value lands, or two hooks on one page — build on each other instead of the
 * later one overwriting the earlier with a stale query string.
 */
export function useUrlState<T extends Record<string, string>>(defaults: T): [T, (patch: Partial<T>) => void] {
  const params = useSearchParams();
  // biome-ignore lint/correctness/useExhaustiveDependencies: defaults are a literal per call site
  const state = useMemo(() => {
    const out = { ...defaults };
    for (const key of Object.keys(defaults) as (keyof T)[]) {
      const value = params.get(key as string);
      if (value !== null) out[key] = value as T[keyof T];
    }
    return out;
  }, [params]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: defaults are a literal per call site
  const update = useCallback((patch: Partial<T>) => {
    const { pathname, search, hash } = window.location;
    const next = new URLSearchParams(search);
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined || value === defaults[key]) next.delete(key);
      else next.set(key, value);
    }
    const query = next.toString();
    if (query === search.replace(/^\?/, '')) return;
    window.history.replaceState(null, '', `${pathname}${query ? `?${query}` : ''}${hash}`);
  }, []);
  return [state, update];
}
