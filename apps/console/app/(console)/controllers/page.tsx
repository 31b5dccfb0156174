import type { Metadata } from 'next';
import { ControllersView } from './ControllersView';

export const metadata: Metadata = { title: 'Controllers' };

export default function ControllersPage() {
  return <ControllersView />;
}
