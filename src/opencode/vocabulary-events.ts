import { z } from "zod";

// The opencode events and fields only the full reply vocabulary reads (shapes measured on opencode
// 1.18.33 and 1.15.13). Parsed loosely, like events.ts: only the fields named here are relied on.

const id = z.string().min(1);

/** `todo.updated`: the session's whole todo list, each time it changes (todowrite). */
export const TodoUpdated = z.looseObject({
  type: z.literal("todo.updated"),
  properties: z.looseObject({
    sessionID: id,
    todos: z.array(z.looseObject({ content: z.string(), status: z.string(), priority: z.string() })),
  }),
});

/** `{file, patch, additions, deletions}`: the edit tool's `metadata.filediff` (one per file in apply_patch's `metadata.files`). */
const FileDiff = z.looseObject({ patch: z.string(), additions: z.number(), deletions: z.number() });

/** What a tool part's `state` says beyond status, input and output: its title and metadata. */
export const ToolDetails = z.looseObject({
  title: z.string().optional().catch(undefined),
  metadata: z
    .looseObject({
      // bash while running: the whole output so far.
      output: z.string().optional().catch(undefined),
      // task: the child session the subagent runs in.
      sessionId: z.string().optional().catch(undefined),
      // edit
      filediff: FileDiff.extend({ file: z.string() }).optional().catch(undefined),
      // apply_patch
      files: z.array(FileDiff.extend({ filePath: z.string() })).optional().catch(undefined),
    })
    .optional()
    .catch(undefined),
});
export type ToolDetails = z.infer<typeof ToolDetails>;

/** `permission.replied`: a permission ask was answered (by this engine or anyone else). */
export const PermissionReplied = z.looseObject({
  type: z.literal("permission.replied"),
  properties: z.looseObject({ sessionID: id, requestID: id, reply: z.enum(["once", "always", "reject"]) }),
});

/** `question.replied` with the chosen labels per question, or `question.rejected`. */
export const QuestionSettled = z.looseObject({
  type: z.enum(["question.replied", "question.rejected"]),
  properties: z.looseObject({ sessionID: id, requestID: id, answers: z.array(z.array(z.string())).optional() }),
});
