'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRouter, useSearchParams } from 'next/navigation';
import { type FormEvent, useEffect, useState } from 'react';
import { ShieldIcon } from '@/components/icons';
import { InlineError } from '@/components/ui';
import { errorInfo } from '@/lib/errors';
import { useTRPC } from '@/lib/trpc';

/** Only same-site paths are honoured as a post-login destination (no open redirect). */
function safeNext(next: string | null): string {
  if (
    !next?.startsWith('/') ||
    next.startsWith('//') ||
    next.startsWith('/\\') ||
    next.startsWith('/login')
  ) {
    return '/clusters';
  }
  return next;
}

function loginMessage(error: unknown): string {
  const info = errorInfo(error);
  switch (info.code) {
    case 'UNAUTHORIZED':
      return info.message || 'invalid username or password';
    case 'TOO_MANY_REQUESTS':
      return info.message;
    case 'BAD_REQUEST':
      return 'enter a username and a password';
    case 'SERVICE_UNAVAILABLE':
    case 'NETWORK':
      return `the hub is not answering; try again shortly (${info.message})`;
    default:
      return info.message;
  }
}

export function LoginForm() {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const next = safeNext(useSearchParams().get('next'));
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');

  // Already signed in (e.g. the back button): go straight on.
  const me = useQuery({ ...trpc.auth.me.queryOptions(), retry: false });
  useEffect(() => {
    if (me.data) router.replace(next);
  }, [me.data, next, router]);

  const login = useMutation(
    trpc.auth.login.mutationOptions({
      onSuccess: () => {
        queryClient.clear();
        router.replace(next);
      },
    }),
  );

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!username || !password) return;
    login.mutate({ username: username.trim(), password });
  };

  return (
    <form className="login-card" onSubmit={submit} data-testid="login-form" noValidate>
      <div className="login-brand">
        <ShieldIcon size={30} />
        <div>
          <div className="login-title">Palisade</div>
          <div className="login-sub">Container security console</div>
        </div>
      </div>
      <h1 className="login-heading">Sign in</h1>
      <label className="field">
        <span className="field-label">Username</span>
        <input
          name="username"
          autoComplete="username"
          autoCapitalize="none"
          spellCheck={false}
          required
          // biome-ignore lint/a11y/noAutofocus: the sign-in page has one job
          autoFocus
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          data-testid="login-username"
        />
      </label>
      <label className="field">
        <span className="field-label">Password</span>
        <input
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          data-testid="login-password"
        />
      </label>
      {login.isError && <InlineError testId="login-error">{loginMessage(login.error)}</InlineError>}
      <button
        type="submit"
        className="btn btn-primary btn-block"
        disabled={login.isPending || login.isSuccess || !username || !password}
        data-testid="login-submit"
      >
        {login.isPending || login.isSuccess ? 'Signing in…' : 'Sign in'}
      </button>
      <p className="login-foot">
        The first administrator&rsquo;s generated password is in <code>initial-admin.json</code> in the
        controller&rsquo;s state directory.
      </p>
    </form>
  );
}
