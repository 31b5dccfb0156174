import type { Metadata } from 'next';
import { Suspense } from 'react';
import { CveView } from './CveView';

export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  const { id } = await params;
  return { title: decodeURIComponent(id) };
}

export default function CvePage() {
  return (
    <Suspense>
      <CveView />
    </Suspense>
  );
}
