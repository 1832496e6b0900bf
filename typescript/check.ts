// What a TypeScript team does with openapi.yaml: generate types with openapi-typescript (as it
// comes, no options) and build requests / read responses through them. scripts/check-typescript
// generates the types from a bare copy of the spec and runs `tsc --noEmit` on this file, so a
// spec change that breaks this code breaks CI. Nothing here runs; it only has to type-check.

import type { components, paths } from "../build/ts/composo";

type Schemas = components["schemas"];
export type RewardRequest = Schemas["RewardRequest"];
export type TraceRequest = Schemas["TraceRequest"];
export type ScoreResponse = Schemas["ScoreResponse"];
export type MultiAgentTraceResponse = Schemas["MultiAgentTraceResponse"];

// The operations take and return exactly these schemas.
type JsonBody<T> = T extends { content: { "application/json": infer B } } ? B : never;
type RewardOperation = paths["/api/v1/evals/reward"]["post"];
type TraceOperation = paths["/api/v1/evals/trace"]["post"];
export type RewardBody = JsonBody<RewardOperation["requestBody"]>;
export type RewardOk = JsonBody<RewardOperation["responses"][200]>;
export type TraceBody = JsonBody<TraceOperation["requestBody"]>;
export type TraceOk = JsonBody<TraceOperation["responses"][200]>;

// The first requests a TypeScript user writes hold the required fields and nothing else: a field
// the service fills in when it is left out (evaluate_latest, page, page_size, ...) must not be
// required by the types. A `default` in the spec would make openapi-typescript require it.
export const minimalReward: RewardBody = {
  messages: [
    { role: "user", content: "Can I still return the jacket I bought three weeks ago?" },
    { role: "assistant", content: "Yes, within 30 days. Use the returns form." },
  ],
  // Required by the either-or rule (a criterion or a saved evaluator), which TypeScript does
  // not see: the types make both optional.
  evaluation_criteria: "Reward responses that state the refund window",
};

export const minimalTrace: TraceBody = {
  trace: {
    root_agent_instance_id: "agent-1",
    agent_instance_by_id: {
      "agent-1": {
        id: "agent-1",
        name: "support",
        interactions: [
          {
            input_messages: [{ role: "user", content: "Where is order 8812?" }],
            output_messages: [{ content: "It ships today." }],
          },
        ],
      },
    },
  },
  evaluation_criteria: "Reward agents that give a delivery date.",
};

type FilterOperation = paths["/api/v1/evaluations/filter"]["post"];
export const everyEvaluation: JsonBody<FilterOperation["requestBody"]> = {};

// A listTraces call without paging parameters, typed the way openapi-fetch's `client.GET` types
// it: the query comes from `paths`, and each of its parameters may be left out.
type ListTraces = paths["/api/v1/traces"]["get"];
type TracePage = JsonBody<ListTraces["responses"][200]>;
declare function getTraces(init: { params: ListTraces["parameters"] }): Promise<TracePage>;

export async function storedTraceIds(): Promise<string[]> {
  let page = await getTraces({ params: {} });
  const ids = page.traces.map((stored) => stored.id);
  while (page.next_page_token !== null) {
    page = await getTraces({ params: { query: { page_token: page.next_page_token } } });
    ids.push(...page.traces.map((stored) => stored.id));
  }
  const november = await getTraces({ params: { query: { start_date: "2026-11-01T00:00:00Z" } } });
  return [...ids, ...november.traces.map((stored) => stored.id)];
}

// A reward request with every optional field a user is likely to set.
export const reward: RewardBody = {
  messages: [
    { role: "user", content: "Can I still return the jacket I bought three weeks ago?" },
    { role: "assistant", content: "Yes, within 30 days. Use the returns form." },
  ],
  evaluation_criteria: "Reward responses that state the refund window",
  model_core: "align-20251111",
  tags: { environment: "production", app_version: "2.14.0" },
  explanation_cleaning: "end_user",
  data_retention: "none",
};

// Model cores and retention modes are open: a core released after generation is accepted.
export const withNewerCore: RewardRequest = { ...reward, model_core: "align-20270101" };

export const bySavedEvaluator: RewardRequest = {
  messages: reward.messages,
  evaluator_name: "support-tone-v2",
  evaluate_latest: false,
};

// @ts-expect-error: request objects are closed, so a misspelt field does not compile.
export const misspelt: RewardRequest = { messages: reward.messages, evaluation_criterion: "x" };

// A trace request: agent instances by id, each interaction an LLM call or a child instance id.
export const trace: TraceBody = {
  trace: {
    root_agent_instance_id: "planner-1",
    agent_instance_by_id: {
      "planner-1": {
        id: "planner-1",
        name: "planner",
        interactions: [
          {
            input_messages: [{ role: "user", type: "text", content: "Book a morning flight." }],
            output_messages: [{ content: "I will ask the flight agent for options." }],
          },
          "flights-1",
        ],
      },
      "flights-1": {
        id: "flights-1",
        name: "flight_search",
        interactions: [
          {
            input_messages: [{ role: "user", content: "Morning flights LHR to JFK on 2026-12-03." }],
            output_messages: [
              {
                type: "tool_call",
                content: {
                  id: "call_7",
                  name: "search_flights",
                  parameters: '{"from": "LHR", "to": "JFK", "date": "2026-12-03"}',
                },
              },
            ],
            tools_available: [
              { name: "search_flights", description: "Find flights.", parameters: "{}" },
            ],
          },
        ],
      },
    },
  },
  evaluation_criteria: "Reward agents that call tools with complete, correct arguments.",
};

// @ts-expect-error: traces are always scored whole; only `evaluate_latest: false` is accepted.
export const latestOnly: TraceRequest = { ...trace, evaluate_latest: true };

// Reading a score: `score` may be null (the criterion did not apply), the rest is optional.
export function describeScore(response: RewardOk): string {
  const score: number | null = response.score;
  const explanation: string = response.explanation;
  const cleaned: string | null | undefined = response.cleaned_explanation;
  const sourceIds: string[] = (response.sources ?? []).map((source) => source.id);
  const shown = score === null ? "n/a" : score.toFixed(2);
  return `${shown}: ${cleaned ?? explanation} [${sourceIds.join(", ")}]`;
}

// @ts-expect-error: the score is nullable, so it cannot be used as a plain number.
export const notNullable = (response: ScoreResponse): number => response.score;

// Reading a trace result: scores grouped by agent name, then by agent instance id.
export function plannerScores(response: TraceOk): (number | null)[] {
  const planner = response.results_by_agent_name["planner"];
  const byInstance = planner?.results_by_agent_instance_id ?? {};
  const median: number | null | undefined = planner?.summary_statistics?.median;
  void median;
  return Object.values(byInstance).map((result) => result?.score ?? null);
}

export const parsed: ScoreResponse = JSON.parse('{"score": 0.86, "explanation": "ok"}');
