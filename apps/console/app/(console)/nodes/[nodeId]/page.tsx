import type { Metadata } from 'next';
import { NodeView } from './NodeView';

export const metadata: Metadata = { title: 'Node' };

export default function NodePage() {
  return <NodeView />;
}
