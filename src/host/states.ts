// Guest states as libvirt names them, and the transitions allowed between them. Every
// transition the supervisor makes goes through `canTransition`, and is recorded as an event.
// stopping -> running is a graceful stop cancelled while it waited for the guest to power off.

export const GUEST_STATES = [
  'stopped',
  'starting',
  'running',
  'paused',
  'stopping',
  'crashed',
] as const;
export type GuestState = (typeof GUEST_STATES)[number];

const ALLOWED: Record<GuestState, readonly GuestState[]> = {
  stopped: ['starting'],
  starting: ['running', 'stopping', 'stopped', 'crashed'],
  running: ['paused', 'stopping', 'stopped', 'crashed'],
  paused: ['running', 'stopping', 'stopped', 'crashed'],
  stopping: ['running', 'stopped', 'crashed'],
  crashed: ['starting', 'stopped'],
};

/** States in which a VMM process exists (or should) for the guest. */
export const ACTIVE_STATES: readonly GuestState[] = ['starting', 'running', 'paused', 'stopping'];

export function isActive(s: GuestState): boolean {
  return ACTIVE_STATES.includes(s);
}

export function canTransition(from: GuestState, to: GuestState): boolean {
  return ALLOWED[from].includes(to);
}

/** Why a state was entered: the reasons events carry. */
export type StateReason =
  | 'created'
  | 'user'
  | 'booted'
  | 'restored'
  | 'cloned'
  | 'crashed'
  | 'restarted'
  | 'guest-shutdown'
  | 'adopted'
  | 'autostart'
  | 'start-failed'
  | 'vanished'
  | 'restart-limit'
  | 'stop-cancelled'
  | 'start-cancelled';
