import { createHash } from 'node:crypto';

/**
 * The id other members see of a session in presence: a digest of the session id, the same on
 * every node and across resumes, from which the session id cannot be recovered. It resumes
 * nothing and addresses nothing.
 */
export function memberId(session: string): string {
  return `m-${createHash('sha256').update(`lifeline presence\n${session}`).digest('base64url').slice(0, 22)}`;
}
