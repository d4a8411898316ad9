/**
 * What the core counts for `/metrics`: plain numbers in cells resolved once per subscription
 * (a delivery costs one increment), read by the metrics exporter when it is scraped. No
 * metrics library here: the core stays free of how the numbers are exposed.
 */
export interface Cell {
  n: number;
}

export interface Counted<L> {
  readonly labels: L;
  readonly value: number;
}

/** Deliveries between two latency samples: a sample costs a Date.parse, a delivery should not. */
export const LATENCY_SAMPLE_EVERY = 64;

export class CoreStats {
  readonly #deliveries = new Map<string, { labels: { app: string; transport: string }; cell: Cell }>();
  readonly #publishes = new Map<string, { labels: { app: string; surface: string }; cell: Cell }>();
  /** Told about one delivery in LATENCY_SAMPLE_EVERY: seconds from its publish to its subscriber's queue. */
  onLatencySample: ((transport: string, seconds: number) => void) | undefined = undefined;

  /** The counter of messages delivered to subscriptions of `app` over `transport`. */
  deliveryCell(app: string, transport: string): Cell {
    const key = `${app}\u0000${transport}`;
    let entry = this.#deliveries.get(key);
    if (!entry) this.#deliveries.set(key, (entry = { labels: { app, transport }, cell: { n: 0 } }));
    return entry.cell;
  }

  countPublishes(app: string, surface: string, count: number): void {
    const key = `${app}\u0000${surface}`;
    let entry = this.#publishes.get(key);
    if (!entry) this.#publishes.set(key, (entry = { labels: { app, surface }, cell: { n: 0 } }));
    entry.cell.n += count;
  }

  readonly #errors = new Map<string, { labels: { surface: string; code: string }; cell: Cell }>();

  /** An error answered to a client (GraphQL, REST) or met in background work (`engine`). */
  countError(surface: string, code: string): void {
    const key = `${surface}\u0000${code}`;
    let entry = this.#errors.get(key);
    if (!entry) this.#errors.set(key, (entry = { labels: { surface, code }, cell: { n: 0 } }));
    entry.cell.n++;
  }

  errors(): Counted<{ surface: string; code: string }>[] {
    return [...this.#errors.values()].map(({ labels, cell }) => ({ labels, value: cell.n }));
  }

  deliveries(): Counted<{ app: string; transport: string }>[] {
    return [...this.#deliveries.values()].map(({ labels, cell }) => ({ labels, value: cell.n }));
  }

  publishes(): Counted<{ app: string; surface: string }>[] {
    return [...this.#publishes.values()].map(({ labels, cell }) => ({ labels, value: cell.n }));
  }
}
