// How a thread of a VM gets its data: as workerData, or as its first message when it was
// started before its VM was configured (vm-threads.ts).
import { parentPort, workerData } from 'node:worker_threads';

/**
 * A thread's data: its workerData, or its first message if it was started before its VM
 * was configured (VmThreads). Later messages are not taken.
 */
export function threadData<T>(): Promise<T> {
  if (workerData !== null && workerData !== undefined) return Promise.resolve(workerData as T);
  return new Promise<T>((resolve) => parentPort!.once('message', (m: T) => resolve(m)));
}
