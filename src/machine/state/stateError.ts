// The one error of saved state: what is wrong and where (a path such as "uart0: rx[3]").

export class StateError extends Error {
  override readonly name = 'StateError';
}
