import { z } from "zod";

// The opencode events this engine reads. Parsed loosely: the server adds fields freely, and only
// the fields named here are relied on. Anything that does not parse is counted as unusable by the codec.

const id = z.string().min(1);

export const ModelRef = z.looseObject({ id, providerID: id });
export type ModelRef = z.infer<typeof ModelRef>;

export const SessionInfo = z.looseObject({
  id,
  parentID: z.string().optional(),
  model: ModelRef.optional(),
  time: z.looseObject({ updated: z.number().optional() }).optional(),
});

export const SessionChanged = z.looseObject({
  type: z.enum(["session.created", "session.updated"]),
  properties: z.looseObject({ info: SessionInfo }),
});

export const MessageUpdated = z.looseObject({
  type: z.literal("message.updated"),
  properties: z.looseObject({
    info: z.looseObject({
      id,
      sessionID: id,
      role: z.string(),
      parentID: z.string().optional(),
      // Set once opencode has finished the message; a message it was writing when it died never gets it.
      time: z.looseObject({ completed: z.number().optional() }).optional().catch(undefined),
    }),
  }),
});

const ToolState = z.looseObject({
  status: z.string(),
  // Always an object in practice; anything else is read as no arguments rather than losing the call.
  input: z.record(z.string(), z.unknown()).optional().catch(undefined),
  output: z.unknown().optional(),
  error: z.unknown().optional(),
});

const Tokens = z.looseObject({
  input: z.number().default(0),
  output: z.number().default(0),
  reasoning: z.number().default(0),
  cache: z.looseObject({ read: z.number().default(0), write: z.number().default(0) }).optional(),
});

export const Part = z.looseObject({
  id,
  sessionID: id,
  messageID: id,
  type: z.string(),
  text: z.string().optional(),
  tool: z.string().optional(),
  callID: z.string().optional(),
  state: ToolState.optional(),
  tokens: Tokens.optional(),
  cost: z.number().optional(),
});
export type Part = z.infer<typeof Part>;

/** One entry of `GET /session/{id}/message`: the stored truth, used to reconcile after a gap. */
export const StoredMessage = z.looseObject({
  info: z.looseObject({
    id,
    sessionID: id,
    role: z.string(),
    parentID: z.string().optional(),
    error: z.looseObject({ name: z.string(), data: z.unknown().optional() }).optional().catch(undefined),
  }),
  parts: z.array(z.unknown()).transform((parts) => parts.flatMap((p) => {
    const parsed = Part.safeParse(p);
    return parsed.success ? [parsed.data] : [];
  })),
});

export const PartUpdated = z.looseObject({
  type: z.literal("message.part.updated"),
  properties: z.looseObject({ part: Part }),
});

export const PartDelta = z.looseObject({
  type: z.literal("message.part.delta"),
  properties: z.looseObject({
    sessionID: id,
    messageID: id,
    partID: id,
    field: z.string(),
    delta: z.string(),
  }),
});

export type PartDelta = z.infer<typeof PartDelta>;

export const SessionStatus = z.looseObject({
  type: z.literal("session.status"),
  properties: z.looseObject({
    sessionID: id,
    status: z.looseObject({
      type: z.string(),
      attempt: z.number().optional(),
      message: z.string().optional(),
    }),
  }),
});

export const SessionDeleted = z.looseObject({
  type: z.literal("session.deleted"),
  properties: z.looseObject({ sessionID: id }),
});

export const SessionError = z.looseObject({
  type: z.literal("session.error"),
  properties: z.looseObject({
    sessionID: z.string().optional(),
    error: z
      .looseObject({
        name: z.string(),
        data: z.looseObject({ message: z.string().optional() }).optional(),
      })
      .optional(),
  }),
});

// An ask that fails to parse is never answered and hangs the turn: only its id and session are
// required; every other field falls back to a neutral value.
export const PermissionAsked = z.looseObject({
  type: z.literal("permission.asked"),
  properties: z.looseObject({
    id,
    sessionID: id,
    permission: z.string().catch("unknown"),
    patterns: z.array(z.string()).catch([]),
    metadata: z.record(z.string(), z.unknown()).catch({}),
    always: z.array(z.string()).catch([]),
    tool: z.looseObject({ messageID: z.string(), callID: z.string() }).optional().catch(undefined),
    /** Set on an ask that came as `permission.v2.asked`: it is answered on the v2 endpoint. */
    api: z.literal("v2").optional().catch(undefined),
  }),
});
export type PermissionRequest = z.infer<typeof PermissionAsked>["properties"];

export const QuestionAsked = z.looseObject({
  type: z.literal("question.asked"),
  properties: z.looseObject({
    id,
    sessionID: id,
    questions: z
      .array(
        z.looseObject({
          question: z.string().catch(""),
          header: z.string().optional().catch(undefined),
          options: z.array(z.looseObject({ label: z.string(), description: z.string().optional() })).catch([]),
          multiple: z.boolean().optional().catch(undefined),
        }),
      )
      .catch([]),
    /** Set on an ask that came as `question.v2.asked`: it is answered on the v2 endpoint. */
    api: z.literal("v2").optional().catch(undefined),
  }),
});
export type QuestionRequest = z.infer<typeof QuestionAsked>["properties"];

// The v2 asks (opencode 1.18's `/doc`: EventPermissionV2Asked, EventQuestionV2Asked), read into the
// v1 shapes, so one policy and one bridge event serve both: v2 renames `permission` to `action`,
// `patterns` to `resources`, `always` to `save`, and `tool` to `source: {type: "tool", ...}`.
const ToolRef = z.looseObject({ messageID: z.string(), callID: z.string() });

export const PermissionV2Asked = z
  .looseObject({
    type: z.literal("permission.v2.asked"),
    properties: z.looseObject({
      id,
      sessionID: id,
      action: z.string().catch("unknown"),
      resources: z.array(z.string()).catch([]),
      save: z.array(z.string()).optional().catch(undefined),
      metadata: z.record(z.string(), z.unknown()).optional().catch(undefined),
      source: ToolRef.optional().catch(undefined),
    }),
  })
  .transform(({ properties: p }): PermissionRequest => ({
    id: p.id,
    sessionID: p.sessionID,
    permission: p.action,
    patterns: p.resources,
    metadata: p.metadata ?? {},
    always: p.save ?? [],
    tool: p.source === undefined ? undefined : { messageID: p.source.messageID, callID: p.source.callID },
    api: "v2",
  }));

export const QuestionV2Asked = z
  .looseObject({
    type: z.literal("question.v2.asked"),
    properties: QuestionAsked.shape.properties.omit({ api: true }),
  })
  .transform(({ properties }): QuestionRequest => ({ ...properties, api: "v2" }));

/** `permission.replied`, `question.replied`, `question.rejected`: an ask was settled (maybe by someone else). */
export const AskSettled = z.looseObject({
  type: z.enum(["permission.replied", "question.replied", "question.rejected", "permission.v2.replied", "question.v2.replied", "question.v2.rejected"]),
  properties: z.looseObject({ sessionID: id, requestID: id }),
});

export const ModelSwitched = z.looseObject({
  type: z.literal("session.next.model.switched"),
  properties: z.looseObject({
    sessionID: id,
    timestamp: z.union([z.number(), z.string()]),
    model: ModelRef,
  }),
});

/**
 * The session an event is about, read without a full parse: it is on the per-event hot path of the
 * hub. opencode puts `sessionID` on `properties` for almost every event; a part carries it on
 * `properties.part`, a session on `properties.info`.
 */
export function sessionIdOf(event: unknown): string | undefined {
  const properties = (event as { properties?: Record<string, unknown> } | null)?.properties;
  if (typeof properties !== "object" || properties === null) return undefined;
  if (typeof properties.sessionID === "string") return properties.sessionID;
  const nested = (properties.part ?? properties.info) as { sessionID?: unknown; id?: unknown } | undefined;
  if (typeof nested?.sessionID === "string") return nested.sessionID;
  return undefined;
}

/**
 * The one session-membership rule: a session belongs to a family when it is the family's root or a
 * child whose `parentID` is in the family (the `task` tool spawns such children, and their
 * permission asks must be answered). Returns the child to add, if this event reveals one.
 */
export function childSessionOf(event: unknown, family: { has(sessionId: string): boolean }): string | undefined {
  const type = (event as { type?: unknown } | null)?.type;
  if (type !== "session.created" && type !== "session.updated") return undefined;
  const info = (event as { properties?: { info?: { id?: unknown; parentID?: unknown } } }).properties?.info;
  if (typeof info?.id !== "string" || typeof info.parentID !== "string") return undefined;
  return family.has(info.parentID) && !family.has(info.id) ? info.id : undefined;
}
