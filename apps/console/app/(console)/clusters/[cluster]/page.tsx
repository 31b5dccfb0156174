import type { Metadata } from 'next';
import { Suspense } from 'react';
import { ClusterView } from './ClusterView';

export async function generateMetadata({
  params,
}: {
  params: Promise<{ cluster: string }>;
}): Promise<Metadata> {
  const { cluster } = await params;
  return { title: `Cluster ${decodeURIComponent(cluster)}` };
}

export default function ClusterPage() {
  return (
    <Suspense>
      <ClusterView />
    </Suspense>
  );
}
