/** What a response script's `response_code` does in a flow, in one line (DESIGN section 5). Pure. */
export interface FlowRetries {
  name: string;
  max_run_retries: number;
}

function retries(count: number): string {
  return count === 1 ? "1 run retry" : `${count} run retries`;
}

function runRetryClause(flows: FlowRetries[]): string {
  if (flows.length === 0) return "up to the flow's run retries (set in the flow's settings)";
  if (flows.length === 1) {
    const count = flows[0]?.max_run_retries ?? 0;
    return count === 0
      ? "this flow allows no run retries, so code 2 fails the run for good: set run retries in the flow settings"
      : `this flow allows ${retries(count)}`;
  }
  return `the flows using it allow ${flows.map((f) => `${retries(f.max_run_retries)} (${f.name})`).join(", ")}`;
}

/**
 * What code 2 does in `flows`; shown with the test result, under the connector shape's response-script picker
 * and in the script editor's response-code help, wherever code 2 is written or chosen.
 */
export function describeCodeTwo(flows: FlowRetries[]): string {
  const onlyFlow = flows.length === 1 ? flows[0] : undefined;
  if (onlyFlow !== undefined && onlyFlow.max_run_retries === 0) return `code 2: ${runRetryClause(flows)}`;
  return `code 2: the run fails and is queued again; ${runRetryClause(flows)}`;
}

/** The returned code (absent or malformed counts as 0) and what it will do where `flows` use the script. */
export function describeResponseCode(code: unknown, flows: FlowRetries[]): string {
  const value = code === undefined || code === null ? 0 : Number(code);
  switch (value) {
    case 0:
      return "code 0: the step continues with the returned payload";
    case 1:
      return "code 1: this attempt fails and the step is tried again after a backoff, up to the connector shape's retries";
    case 2:
      return describeCodeTwo(flows);
    case 3:
      return "code 3: the run fails for good, without a retry";
    case 4:
      return "code 4: the connector authenticates again and the request is repeated once";
    default:
      return `code ${String(code)}: not a response code (0-4); the step fails`;
  }
}
