'use client';

import { Badge } from './ui';

export type Mode = 'discover' | 'monitor' | 'protect';

const MODE_TONE: Record<Mode, 'blue' | 'amber' | 'green'> = {
  discover: 'blue',
  monitor: 'amber',
  protect: 'green',
};
const MODE_HELP: Record<Mode, string> = {
  discover: 'learns what containers do and allows it',
  monitor: 'alerts on anything not allowed, blocks nothing',
  protect: 'blocks anything not allowed',
};

/** A rule kind's mode; `inherited` marks one that follows the cluster default. */
export function ModeBadge({ mode, inherited }: { mode: Mode; inherited?: boolean }) {
  return (
    <span title={`${mode}: ${MODE_HELP[mode]}${inherited ? ' (cluster default)' : ''}`}>
      <Badge tone={inherited ? 'grey' : MODE_TONE[mode]}>{inherited ? `${mode} (default)` : mode}</Badge>
    </span>
  );
}
