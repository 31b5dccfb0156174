import { z } from 'zod';

/** Error codes shared by every request/reply exchange; the console maps them to tRPC codes. */
export const ErrorCode = z.enum([
  'BAD_REQUEST',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'RATE_LIMITED',
  'INTERNAL',
  'TOKEN_INVALID',
  'TOKEN_EXPIRED',
  'TOKEN_USED',
  'TOKEN_REVOKED',
  'TOKEN_WRONG_CLUSTER',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorBody = z.object({ code: ErrorCode, message: z.string().max(2000) });
export type ErrorBody = z.infer<typeof ErrorBody>;

export const ErrorReply = z.object({ ok: z.literal(false), error: ErrorBody });
export type ErrorReply = z.infer<typeof ErrorReply>;

/** A failure that carries a wire error code; thrown by handlers, turned into an ErrorReply at the edge. */
export class ProtocolError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}
