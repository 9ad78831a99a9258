/** What one scenario found: its figures (printed, and summed into the README's reliability note) and its violations. */
export interface ScenarioResult {
  name: string;
  figures: Record<string, number | string>;
  violations: string[];
  durationMs: number;
}

/** Collects a scenario's figures and violations; a violation is anything the operator promised and did not keep. */
export class ScenarioReport {
  readonly figures: Record<string, number | string> = {};
  readonly violations: string[] = [];
  private readonly started = Date.now();

  constructor(
    readonly name: string,
    private readonly log: (line: string) => void,
  ) {}

  figure(name: string, value: number | string): void {
    this.figures[name] = value;
  }

  add(name: string, by = 1): void {
    const current = this.figures[name];
    this.figures[name] = (typeof current === "number" ? current : 0) + by;
  }

  violation(message: string): void {
    this.violations.push(message);
    this.log(`  VIOLATION ${message}`);
  }

  /** Records a violation unless `ok`; returns `ok`. */
  check(ok: boolean, message: string): boolean {
    if (!ok) this.violation(message);
    return ok;
  }

  note(line: string): void {
    this.log(`  ${line}`);
  }

  result(): ScenarioResult {
    return {
      name: this.name,
      figures: { ...this.figures },
      violations: [...this.violations],
      durationMs: Date.now() - this.started,
    };
  }
}
