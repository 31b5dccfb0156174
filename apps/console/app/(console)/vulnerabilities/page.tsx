import type { Metadata } from 'next';
import { Suspense } from 'react';
import { VulnerabilitiesView } from './VulnerabilitiesView';

export const metadata: Metadata = { title: 'Vulnerabilities' };

export default function VulnerabilitiesPage() {
  return (
    <Suspense>
      <VulnerabilitiesView />
    </Suspense>
  );
}
