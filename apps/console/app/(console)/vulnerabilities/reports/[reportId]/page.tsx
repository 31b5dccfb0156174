import type { Metadata } from 'next';
import { Suspense } from 'react';
import { ReportView } from './ReportView';

export const metadata: Metadata = { title: 'Scan report' };

export default function ReportPage() {
  return (
    <Suspense>
      <ReportView />
    </Suspense>
  );
}
