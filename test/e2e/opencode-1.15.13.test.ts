import { describeScenarios } from "./scenarios.js";

describeScenarios("1.15.13");
