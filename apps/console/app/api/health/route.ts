export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

/** Liveness of the console process itself; touches neither NATS nor the database. */
export function GET() {
  return Response.json({ ok: true }, { headers: { 'cache-control': 'no-store' } });
}
