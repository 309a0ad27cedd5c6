import { sha256 } from '../sha256.js';

/**
 * The id other members see of a session in presence: a digest of the session id, the same on
 * every node and across resumes, from which the session id cannot be recovered. It resumes
 * nothing and addresses nothing.
 */
export function memberId(session: string): string {
  return `m-${sha256(`lifeline presence\n${session}`, 'base64url').slice(0, 22)}`;
}
