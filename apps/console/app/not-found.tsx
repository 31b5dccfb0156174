import Link from 'next/link';

export default function NotFound() {
  return (
    <div className="gate">
      <div className="gate-panel">
        <h1 className="page-title">Page not found</h1>
        <p className="page-sub">
          Nothing lives at this address. <Link href="/clusters">Go to Clusters</Link>
        </p>
      </div>
    </div>
  );
}
