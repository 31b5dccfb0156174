'use client';

import { useState } from 'react';
import { mayScanImages, useMe } from '@/components/AppShell';
import { PlusIcon } from '@/components/icons';
import { ScanImageDialog } from '@/components/ScanImageDialog';
import { useUrlState } from '@/lib/useUrlState';
import { CvesTab } from './CvesTab';
import { ImagesTab } from './ImagesTab';
import { ScansTab } from './ScansTab';

const TABS = [
  { id: 'cves', label: 'CVEs' },
  { id: 'images', label: 'Images' },
  { id: 'scans', label: 'Scans' },
] as const;
type Tab = (typeof TABS)[number]['id'];

/** What a tab needs from the page: the shared cluster filter and the way to start a scan. */
export interface TabProps {
  cluster: string;
  setCluster: (cluster: string) => void;
  onScan?: () => void;
}

/**
 * Vulnerabilities across every cluster the user can see, from the current scan report of each image
 * or workload. The tab and every filter live in the URL; the cluster filter is shared by the tabs.
 */
export function VulnerabilitiesView() {
  const me = useMe();
  const [state, setState] = useUrlState({ tab: 'cves', cluster: '' });
  const tab: Tab = TABS.some((t) => t.id === state.tab) ? (state.tab as Tab) : 'cves';
  const [scanning, setScanning] = useState(false);
  const canScan = mayScanImages(me);
  const onScan = canScan ? () => setScanning(true) : undefined;
  const props: TabProps = { cluster: state.cluster, setCluster: (cluster) => setState({ cluster }), onScan };

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1 className="page-title">Vulnerabilities</h1>
          <p className="page-sub">
            Known vulnerabilities in the images running on your nodes and the images scanned from registries,
            from the latest scan of each.
          </p>
        </div>
        {canScan && (
          <button
            type="button"
            className="btn btn-primary"
            onClick={() => setScanning(true)}
            data-testid="scan-image"
          >
            <PlusIcon size={15} />
            Scan image
          </button>
        )}
      </div>

      <div className="panel">
        <div className="tabs" role="tablist" aria-label="Vulnerability views">
          {TABS.map((t) => (
            <button
              key={t.id}
              type="button"
              role="tab"
              aria-selected={tab === t.id}
              className={tab === t.id ? 'tab active' : 'tab'}
              onClick={() => setState({ tab: t.id })}
              data-testid={`tab-${t.id}`}
            >
              {t.label}
            </button>
          ))}
        </div>
        <div role="tabpanel">
          {tab === 'cves' ? (
            <CvesTab {...props} />
          ) : tab === 'images' ? (
            <ImagesTab {...props} />
          ) : (
            <ScansTab {...props} />
          )}
        </div>
      </div>

      {canScan && (
        <ScanImageDialog open={scanning} onClose={() => setScanning(false)} defaultCluster={state.cluster} />
      )}
    </div>
  );
}
