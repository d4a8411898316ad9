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

/** Counters by two labels, each a cell created on first use. */
class Counts<A extends string, B extends string> {
  readonly #cells = new Map<string, { labels: Record<A | B, string>; cell: Cell }>();
  constructor(
    private readonly first: A,
    private readonly second: B,
  ) {}

  cell(a: string, b: string): Cell {
    const key = `${a}\u0000${b}`;
    let entry = this.#cells.get(key);
    if (!entry) this.#cells.set(key, (entry = { labels: { [this.first]: a, [this.second]: b } as Record<A | B, string>, cell: { n: 0 } }));
    return entry.cell;
  }

  read(): Counted<Record<A | B, string>>[] {
    return [...this.#cells.values()].map(({ labels, cell }) => ({ labels, value: cell.n }));
  }
}

export class CoreStats {
  readonly #deliveries = new Counts("app", "transport");
  readonly #publishes = new Counts("app", "surface");
  readonly #errors = new Counts("surface", "code");
  /** Told about one delivery in LATENCY_SAMPLE_EVERY: seconds from its publish to its subscriber's queue. */
  onLatencySample: ((transport: string, seconds: number) => void) | undefined = undefined;

  /** The counter of messages delivered to subscriptions of `app` over `transport`. */
  deliveryCell(app: string, transport: string): Cell {
    return this.#deliveries.cell(app, transport);
  }

  countPublishes(app: string, surface: string, count: number): void {
    this.#publishes.cell(app, surface).n += count;
  }

  /** An error answered to a client (GraphQL, REST) or met in background work (`engine`). */
  countError(surface: string, code: string): void {
    this.#errors.cell(surface, code).n++;
  }

  deliveries = () => this.#deliveries.read();
  publishes = () => this.#publishes.read();
  errors = () => this.#errors.read();
}
