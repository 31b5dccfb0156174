import { type NextRequest, NextResponse } from 'next/server';

// Must match SESSION_COOKIE in @palisade/api (not imported: the proxy bundle stays dependency-free).
const SESSION_COOKIE = 'palisade_session';

/**
 * Without a session cookie there is nothing to show: go to the sign-in page at once, remembering
 * where the user was going. A cookie that is present but invalid or expired is caught by the
 * client-side session check, which redirects the same way before rendering anything.
 */
export function proxy(request: NextRequest) {
  if (request.cookies.has(SESSION_COOKIE)) return NextResponse.next();
  const { pathname, search } = request.nextUrl;
  const url = request.nextUrl.clone();
  url.pathname = '/login';
  url.search = '';
  if (pathname !== '/') url.searchParams.set('next', pathname + search);
  return NextResponse.redirect(url);
}

export const config = {
  // Everything except the sign-in page, the API, Next's assets and the favicon.
  matcher: ['/((?!login|api/|_next/|favicon\\.ico).*)'],
};
