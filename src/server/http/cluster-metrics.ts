import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/**
 * Metrics of `latchkey serve --workers N`. node:cluster hands each connection to one worker, so a
 * scrape of /metrics reaches one of them; answered from that worker's registry alone, every other
 * scrape would see other counters, and Prometheus would read each switch as a counter reset. The
 * worker that gets the scrape asks the primary instead, which gathers every worker's registry and
 * sums them (prom-client's AggregatorRegistry: counters and histograms added up, process figures
 * by each metric's own rule).
 */

const ASK = 'latchkey:metrics';
/** The primary gives up on a worker that does not answer within 5 s (prom-client's own limit); the worker waits a little longer. */
const ANSWER_TIMEOUT_MS = 6_000;

interface Ask {
  type: typeof ASK;
  id: number;
}

interface Answer extends Ask {
  text?: string;
  error?: string;
}

function isAsk(message: unknown): message is Ask {
  return typeof message === 'object' && message !== null && (message as Ask).type === ASK && typeof (message as Ask).id === 'number';
}

/** In the primary: answers each worker's request for the metrics of all workers. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: unknown) => {
    if (!isAsk(message)) return;
    const reply = (answer: Omit<Answer, 'type' | 'id'>) => {
      if (worker.isConnected()) worker.send({ type: ASK, id: message.id, ...answer } satisfies Answer);
    };
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (error: unknown) => reply({ error: error instanceof Error ? error.message : String(error) }),
    );
  });
}

/**
 * In a worker: lets the primary read `registry`, and returns the function that reads every
 * worker's metrics through the primary.
 */
export function clusterMetricsReader(registry: Registry): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry]);
  // The constructor is what makes prom-client answer the primary's requests in this worker.
  new AggregatorRegistry();
  const waiting = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  let next = 0;
  process.on('message', (message: unknown) => {
    if (!isAsk(message)) return;
    const answer = message as Answer;
    const pending = waiting.get(answer.id);
    if (!pending) return;
    waiting.delete(answer.id);
    if (answer.text !== undefined) pending.resolve(answer.text);
    else pending.reject(new Error(`metrics of the other workers unavailable: ${answer.error ?? 'no answer'}`));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('metrics of the other workers unavailable: the primary did not answer'));
      }, ANSWER_TIMEOUT_MS);
      waiting.set(id, {
        resolve: (text) => (clearTimeout(timer), resolve(text)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      process.send!({ type: ASK, id } satisfies Ask);
    });
}
