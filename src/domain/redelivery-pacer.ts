import { isoDate } from "../clock.ts";

/** Due times `1000 / ratePerSecond` ms apart from `start`, so the consumer never gets more than its rate from a recovery or replay. */
export class Pacer {
  private slots = 0;
  constructor(
    private readonly start: number,
    readonly ratePerSecond: number,
  ) {}

  next(): number {
    return this.start + Math.floor((this.slots++ * 1000) / this.ratePerSecond);
  }

  lastDueAt(): string | null {
    return this.slots === 0 ? null : isoDate(this.start + Math.floor(((this.slots - 1) * 1000) / this.ratePerSecond));
  }
}
