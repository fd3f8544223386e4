"""Synthetic incident bundles with known ground truth: demos, tests, benchmarks and root-cause evaluation."""

from postmortem.generator.generate import GROUND_TRUTH, generate_incident
from postmortem.generator.scenarios import SCENARIOS, Scenario
from postmortem.generator.truth import GroundTruth
from postmortem.generator.variation import Variation

__all__ = ["GROUND_TRUTH", "SCENARIOS", "GroundTruth", "Scenario", "Variation", "generate_incident"]
