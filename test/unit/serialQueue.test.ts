import { describe, expect, it } from 'vitest';
import { SerialQueue } from '../../src/engine/serialQueue.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('SerialQueue', () => {
  it('run_whenEarlierTasksAreSlower_runsTasksOneAtATimeInArrivalOrder', async () => {
    const queue = new SerialQueue();
    const events: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const task = (name: string, ms: number) => async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      events.push(`start ${name}`);
      await sleep(ms);
      events.push(`end ${name}`);
      running--;
      return name;
    };
    const results = await Promise.all([queue.run(task('a', 30)), queue.run(task('b', 10)), queue.run(task('c', 0))]);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(events).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(maxRunning).toBe(1);
  });

  it('run_whenTaskIsQueuedBehindAnother_doesNotStartItEarly', async () => {
    const queue = new SerialQueue();
    const gate = deferred();
    let secondStarted = false;
    const first = queue.run(() => gate.promise);
    const second = queue.run(async () => {
      secondStarted = true;
    });
    await sleep(5);
    expect(secondStarted).toBe(false);
    gate.resolve();
    await Promise.all([first, second]);
    expect(secondStarted).toBe(true);
  });

  it('run_whenTaskRejects_rejectsItsOwnPromiseAndStillRunsLaterTasks', async () => {
    const queue = new SerialQueue();
    const failing = queue.run(async () => {
      throw new Error('boom');
    });
    const later = queue.run(async () => 'after');
    await expect(failing).rejects.toThrow('boom');
    await expect(later).resolves.toBe('after');
  });

  it('run_whenTaskThrowsSynchronously_rejectsAndKeepsTheQueueGoing', async () => {
    const queue = new SerialQueue();
    const failing = queue.run((() => {
      throw new Error('sync boom');
    }) as () => Promise<void>);
    await expect(failing).rejects.toThrow('sync boom');
    await expect(queue.run(async () => 1)).resolves.toBe(1);
  });

  it('run_whenTaskResolves_returnsTheTaskValue', async () => {
    const queue = new SerialQueue();
    await expect(queue.run(async () => ({ ok: true }))).resolves.toEqual({ ok: true });
  });

  it('drain_whenTasksArePending_waitsForAllOfThem', async () => {
    const queue = new SerialQueue();
    const done: number[] = [];
    for (let i = 0; i < 3; i++) {
      void queue.run(async () => {
        await sleep(5);
        done.push(i);
      });
    }
    await queue.drain();
    expect(done).toEqual([0, 1, 2]);
  });

  it('drain_whenATaskFailed_stillResolves', async () => {
    const queue = new SerialQueue();
    queue.run(async () => {
      throw new Error('ignored');
    }).catch(() => undefined);
    await expect(queue.drain()).resolves.toBeUndefined();
  });

  it('drain_whenQueueIsEmpty_resolvesImmediately', async () => {
    await expect(new SerialQueue().drain()).resolves.toBeUndefined();
  });

  it('length_whenTasksAreQueued_countsPendingTasksUntilTheySettle', async () => {
    const queue = new SerialQueue();
    expect(queue.length).toBe(0);
    const gate = deferred();
    const first = queue.run(() => gate.promise);
    const second = queue.run(async () => undefined);
    const third = queue.run(async () => {
      throw new Error('x');
    });
    expect(queue.length).toBe(3);
    gate.resolve();
    await first;
    await second;
    await expect(third).rejects.toThrow('x');
    expect(queue.length).toBe(0);
  });

  it('length_whenFirstTaskSettles_dropsByOne', async () => {
    const queue = new SerialQueue();
    const a = deferred();
    const b = deferred();
    const first = queue.run(() => a.promise);
    const second = queue.run(() => b.promise);
    a.resolve();
    await first;
    expect(queue.length).toBe(1);
    b.resolve();
    await second;
    expect(queue.length).toBe(0);
  });
});

describe('SerialQueue.drain with follow-up tasks', () => {
  it('drain_whenATaskQueuesAnotherWhileRunning_waitsForTheFollowUpToo', async () => {
    const queue = new SerialQueue();
    const done: string[] = [];
    void queue.run(async () => {
      void queue.run(async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        done.push('follow-up');
      });
      done.push('first');
    });
    await queue.drain();
    expect(done).toEqual(['first', 'follow-up']);
    expect(queue.length).toBe(0);
  });
});
