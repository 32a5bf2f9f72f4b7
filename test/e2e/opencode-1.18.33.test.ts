import { describeScenarios } from "./scenarios.js";

describeScenarios("1.18.33");
