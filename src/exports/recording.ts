// `opencode-turns/recording`: recording turns, replaying them, and inspecting the machine.
export {
  TurnRecorder,
  replay,
  readRecording,
  recordedReplies,
  RecordingHeader,
  RecordingEntry,
  RecordedError,
  RecordingError,
  RECORDING_FORMAT,
  RECORDING_VERSION,
} from "../observe/recording.js";
export { InspectionLog, inspectionRecord, type InspectionRecord } from "../observe/inspection-log.js";
export { startInspector, type LiveInspector } from "../observe/inspector.js";
