// examples/readme/task.ts
import { Task, TaskSupervisor, DynamicSupervisor, setLogger } from 'beamsock';

setLogger(() => undefined); // the failing task's crash report is expected here
const answer = Task.async(async () => 6 * 7);
console.log(await Task.await(answer)); // 42

// At most 2 lookups at once, results in input order.
for await (const r of Task.asyncStream(['ada', 'bob', 'cy'], async (name) => name.toUpperCase(), { maxConcurrency: 2 })) {
  console.log(r); // { ok: 'ADA' } { ok: 'BOB' } { ok: 'CY' }
}

// Not linked: a crash is a result, not an exit signal for the caller.
const sup = await TaskSupervisor.start();
const risky = await TaskSupervisor.asyncNolink(sup, () => {
  throw new Error('flaky service');
});
const outcome = await Task.yield(risky);
console.log(outcome !== undefined && 'exit' in outcome ? 'the task failed, the caller lives on' : outcome);
await DynamicSupervisor.stop(sup);
