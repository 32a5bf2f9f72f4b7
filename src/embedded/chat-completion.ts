/** An answer script as OpenAI-compatible chat-completion JSON: the streamed chunks, or one completion. */
import { chunksOf } from "./chat-request.js";
import type { Script } from "./model-server.js";

export interface Ctx {
  id: string;
  model: string;
  created: number;
}

function chunk(ctx: Ctx, delta: Record<string, unknown>, finish: string | null = null, usage?: object): string {
  const obj: Record<string, unknown> = {
    id: ctx.id,
    object: "chat.completion.chunk",
    created: ctx.created,
    model: ctx.model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  };
  if (usage) obj.usage = usage;
  return `data: ${JSON.stringify(obj)}\n\n`;
}

function usageOf(script: Script) {
  const out = (script.text?.length ?? 0) + (script.reasoning?.length ?? 0) + (script.toolCalls?.length ?? 0) * 10;
  const prompt = script.promptTokens ?? 10;
  return { prompt_tokens: prompt, completion_tokens: out, total_tokens: prompt + out };
}

/** The SSE frames of a scripted streamed answer, in order; `paced` marks the reasoning and text deltas. */
export function frames(ctx: Ctx, script: Script): { data: string; paced: boolean }[] {
  const out: { data: string; paced: boolean }[] = [];
  out.push({ data: chunk(ctx, { role: "assistant", content: "" }), paced: false });
  for (const r of script.reasoning ?? []) out.push({ data: chunk(ctx, { reasoning_content: r }), paced: true });
  for (const t of script.text ?? []) out.push({ data: chunk(ctx, { content: t }), paced: true });
  (script.toolCalls ?? []).forEach((call, index) => {
    out.push({
      data: chunk(ctx, {
        tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }],
      }),
      paced: false,
    });
    // Stream the arguments in a few pieces.
    const pieces = chunksOf(call.arguments, 3);
    for (const p of pieces) {
      out.push({ data: chunk(ctx, { tool_calls: [{ index, function: { arguments: p } }] }), paced: false });
    }
  });
  const finish = script.toolCalls?.length ? "tool_calls" : "stop";
  out.push({ data: chunk(ctx, {}, finish, usageOf(script)), paced: false });
  out.push({ data: "data: [DONE]\n\n", paced: false });
  return out;
}

export function completionJson(ctx: Ctx, script: Script) {
  const message: Record<string, unknown> = { role: "assistant", content: (script.text ?? []).join("") || null };
  if (script.reasoning?.length) message.reasoning_content = script.reasoning.join("");
  if (script.toolCalls?.length) {
    message.tool_calls = script.toolCalls.map((c) => ({
      id: c.id,
      type: "function",
      function: { name: c.name, arguments: c.arguments },
    }));
  }
  return {
    id: ctx.id,
    object: "chat.completion",
    created: ctx.created,
    model: ctx.model,
    choices: [{ index: 0, message, finish_reason: script.toolCalls?.length ? "tool_calls" : "stop" }],
    usage: usageOf(script),
  };
}
