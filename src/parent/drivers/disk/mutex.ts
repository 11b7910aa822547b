// An asynchronous mutex: callers queue in arrival order; run() holds it across the awaits
// of one critical section (a qcow2 allocation is several dependent file writes).
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs section once every earlier section has finished; its result or error is returned. */
  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.tail.then(section);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
