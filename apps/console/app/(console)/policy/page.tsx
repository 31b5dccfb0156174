import type { Metadata } from 'next';
import { Suspense } from 'react';
import { PolicyView } from './PolicyView';

export const metadata: Metadata = { title: 'Policy' };

export default function PolicyPage() {
  return (
    <Suspense>
      <PolicyView />
    </Suspense>
  );
}
