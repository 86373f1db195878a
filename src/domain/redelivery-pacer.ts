import { isoDate } from "../clock.ts";
import { PARKED_AT } from "../storage/deliveries/park.ts";

/**
 * Due times `1000 / ratePerSecond` ms apart from `start`, so the consumer
 * never gets more than its rate from a recovery or replay. A listen
 * consumer's (`toStream`) are parked instead, as all its deliveries are: its
 * CLI's stream takes them at once and forwards them one at a time.
 */
export class Pacer {
  private slots = 0;
  constructor(
    private readonly start: number,
    readonly ratePerSecond: number,
    private readonly toStream = false,
  ) {}

  next(): number {
    const at = this.dueAt(this.slots++);
    return this.toStream ? PARKED_AT : at;
  }

  lastDueAt(): string | null {
    return this.slots === 0 ? null : isoDate(this.toStream ? this.start : this.dueAt(this.slots - 1));
  }

  private dueAt(slot: number): number {
    return this.start + Math.floor((slot * 1000) / this.ratePerSecond);
  }
}
