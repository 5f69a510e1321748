"""Measuring and showing a model: metrics, the HTML report and its figures, explanations, run comparison."""
