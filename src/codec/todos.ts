import type { Reply } from "../contract/replies.js";
import { TodoUpdated } from "../opencode/vocabulary-events.js";
import type { FullTrack } from "./full-track.js";
import type { TurnState } from "./state.js";

// The agent's todo list (todowrite): sent whole each time it changes during the turn.

export function onTodos(event: unknown, state: TurnState, full: FullTrack): { full: FullTrack; replies: Reply[] } | undefined {
  const parsed = TodoUpdated.safeParse(event);
  if (!parsed.success || !state.userSeen) return undefined;
  const todos = parsed.data.properties.todos.map(({ content, status, priority }) => ({ content, status, priority }));
  const key = JSON.stringify(todos);
  if (key === full.todos) return undefined;
  return { full: { ...full, todos: key }, replies: [{ kind: "todo", trace_id: state.traceId, todos }] };
}
