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
  'migrating',
] as const;
export type GuestState = (typeof GUEST_STATES)[number];

// A migration: on the source running -> migrating -> stopped (moved: the guest is then
// removed) or back to running (failed, cancelled), or paused (the outcome unknown); on the
// destination an incoming guest is made stopped and goes at once to migrating, then running
// (moved) or crashed (the stream failed: the guest is then removed).
const ALLOWED: Record<GuestState, readonly GuestState[]> = {
  stopped: ['starting', 'migrating'],
  starting: ['running', 'stopping', 'stopped', 'crashed'],
  running: ['paused', 'stopping', 'stopped', 'crashed', 'migrating'],
  paused: ['running', 'stopping', 'stopped', 'crashed'],
  stopping: ['running', 'stopped', 'crashed'],
  crashed: ['starting', 'stopped'],
  migrating: ['running', 'paused', 'stopped', 'crashed'],
};

/** States in which a VMM process exists (or should) for the guest. */
export const ACTIVE_STATES: readonly GuestState[] = [
  'starting',
  'running',
  'paused',
  'stopping',
  'migrating',
];

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
  | 'start-cancelled'
  | 'incoming'
  | 'migrated'
  | 'migration-failed'
  | 'migration-unknown';
