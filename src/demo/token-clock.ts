/** How long the server will accept this connection's credentials, counted down once a second. */
export class TokenClock {
  #expiresAt: number | undefined;
  #withheld = false;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly out: HTMLElement) {}

  /** `withheld`: no refresh will come, so the countdown ends in a 4000 close. */
  set(expiresAt: number, withheld: boolean): void {
    this.#expiresAt = expiresAt;
    this.#withheld = withheld;
    this.#timer ??= setInterval(() => this.#tick(), 1000);
    this.#tick();
  }

  clear(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#expiresAt = undefined;
    this.out.textContent = '–';
    this.out.classList.remove('is-warning');
  }

  #tick(): void {
    if (this.#expiresAt === undefined) return;
    const left = Math.max(0, Math.ceil((this.#expiresAt - Date.now()) / 1000));
    const text = left >= 60 ? `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}` : `${left} s`;
    this.out.textContent = this.#withheld ? `in ${text}, not refreshed` : `in ${text}`;
    this.out.classList.toggle('is-warning', this.#withheld);
    this.out.title = this.#withheld ? 'Refreshes are withheld: the server closes with 4000 at expiry' : 'Refreshed on the live link before it expires';
  }
}
