import type { EndpointRecord, NumberRecord, SenderRecord } from "./endpoints.js";
import { pageBySeq, removeBySeq, type Page, type PageRequest } from "./paging.js";
import type { WorkspaceIdentity } from "./types.js";

export interface NumberFilter {
  /** Leading digits, `+` optional. */
  numberString?: string;
  countryCodes?: string[];
}

function matchesNumberFilter(record: NumberRecord, filter: NumberFilter): boolean {
  if (filter.countryCodes && !filter.countryCodes.includes(record.countryCode)) return false;
  if (filter.numberString === undefined) return true;
  const digits = filter.numberString.replace(/^\+/, "");
  return record.numberString.startsWith(`+${digits}`);
}

/** One workspace's numbers and senders, each kept in creation order so a page costs O(page). */
export class WorkspaceState {
  private readonly numbers: NumberRecord[] = [];
  private readonly numbersById = new Map<string, NumberRecord>();
  private readonly senders: SenderRecord[] = [];
  private readonly sendersById = new Map<string, SenderRecord>();

  constructor(readonly identity: WorkspaceIdentity) {}

  get id(): string {
    return this.identity.workspaceId;
  }

  get numberCount(): number {
    return this.numbers.length;
  }

  get senderCount(): number {
    return this.senders.length;
  }

  addNumber(record: NumberRecord): void {
    this.numbers.push(record);
    this.numbersById.set(record.id, record);
  }

  addSender(record: SenderRecord): void {
    this.senders.push(record);
    this.sendersById.set(record.id, record);
  }

  number(id: string): NumberRecord | undefined {
    return this.numbersById.get(id);
  }

  sender(id: string): SenderRecord | undefined {
    return this.sendersById.get(id);
  }

  endpoint(id: string): EndpointRecord | undefined {
    return this.numbersById.get(id) ?? this.sendersById.get(id);
  }

  removeNumber(id: string): NumberRecord | undefined {
    const record = this.numbersById.get(id);
    if (!record) return undefined;
    this.numbersById.delete(id);
    removeBySeq(this.numbers, record.seq);
    return record;
  }

  pageNumbers(filter: NumberFilter, request: PageRequest): Page<NumberRecord> {
    return pageBySeq(this.numbers, `numbers:${this.id}`, request, (r) => matchesNumberFilter(r, filter));
  }

  pageSenders(request: PageRequest): Page<SenderRecord> {
    return pageBySeq(this.senders, `senders:${this.id}`, request);
  }

  allNumbers(): readonly NumberRecord[] {
    return this.numbers;
  }

  allSenders(): readonly SenderRecord[] {
    return this.senders;
  }
}
