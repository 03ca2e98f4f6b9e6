/**
 * A supervisor's lifecycle and restart intensity as an xstate machine, one actor
 * per supervisor (never per child): `starting → running ⇄ restarting →
 * shutting_down → terminated`, intensity a guard over the restart times within
 * `maxSeconds`. Shared by `Supervisor` and `DynamicSupervisor`.
 */
import { assign, createActor, setup } from 'xstate';

interface IntensityContext {
  readonly maxRestarts: number;
  readonly periodMs: number;
  /** `performance.now()` of the restarts within the last period, oldest first. */
  readonly restarts: readonly number[];
}

type LifecycleEvent =
  | { readonly type: 'started' }
  | { readonly type: 'restart'; readonly at: number }
  | { readonly type: 'restarted' }
  | { readonly type: 'shutdown' }
  | { readonly type: 'terminated' };

function restartsWithin(context: IntensityContext, now: number): number[] {
  return context.restarts.filter((t) => now - t < context.periodMs);
}

const onRestart = [
  { guard: 'withinIntensity', target: 'restarting', actions: 'recordRestart' },
  { target: 'shutting_down', actions: 'recordRestart' },
] as const;

const lifecycleMachine = setup({
  types: {
    context: {} as IntensityContext,
    events: {} as LifecycleEvent,
    input: {} as { readonly maxRestarts: number; readonly maxSeconds: number },
  },
  guards: {
    // OTP gives up on the restart that makes more than maxRestarts within the period.
    withinIntensity: ({ context, event }) => event.type === 'restart' && restartsWithin(context, event.at).length < context.maxRestarts,
  },
  actions: {
    recordRestart: assign({
      restarts: ({ context, event }) => (event.type === 'restart' ? [...restartsWithin(context, event.at), event.at] : context.restarts),
    }),
  },
}).createMachine({
  id: 'supervisor',
  context: ({ input }) => ({ maxRestarts: input.maxRestarts, periodMs: input.maxSeconds * 1000, restarts: [] }),
  initial: 'starting',
  states: {
    starting: { on: { started: 'running', shutdown: 'shutting_down' } },
    running: { on: { restart: onRestart, shutdown: 'shutting_down' } },
    // A failed restart stays here until its retry succeeds; each retry counts as a restart.
    restarting: { on: { restart: onRestart, restarted: 'running', shutdown: 'shutting_down' } },
    shutting_down: { on: { terminated: 'terminated' } },
    terminated: { type: 'final' },
  },
});

/** @internal one supervisor's lifecycle and restart intensity (one xstate actor per supervisor, none per child). */
export class Lifecycle {
  readonly #actor;

  constructor(maxRestarts: number, maxSeconds: number) {
    this.#actor = createActor(lifecycleMachine, { input: { maxRestarts, maxSeconds } }).start();
  }

  started(): void {
    this.#actor.send({ type: 'started' });
  }

  /** Records a restart now. False when it is one too many for the intensity: the supervisor must shut down. */
  restart(): boolean {
    this.#actor.send({ type: 'restart', at: performance.now() });
    return !this.#actor.getSnapshot().matches('shutting_down');
  }

  restarted(): void {
    this.#actor.send({ type: 'restarted' });
  }

  shutdown(): void {
    this.#actor.send({ type: 'shutdown' });
  }

  terminated(): void {
    this.#actor.send({ type: 'terminated' });
    this.#actor.stop();
  }

  get state(): string {
    return String(this.#actor.getSnapshot().value);
  }

  restartsInWindow(): number {
    return restartsWithin(this.#actor.getSnapshot().context, performance.now()).length;
  }
}
